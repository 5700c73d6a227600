package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	cgloader "github.com/compose-spec/compose-go/v2/loader"
	"gopkg.in/yaml.v3"
)

// LoadDir loads every entry directly under dir: a directory holding a
// compose file, or a single NAME.yaml file; a symlink to either is
// followed. One broken entry is reported in its Entry and never hides the
// others. An entry's Name is its project name, decided as docker compose
// decides it (see LoadProject) even when its files are broken, so it keeps
// owning its units; two entries naming the same project are an error on
// the second. opts apply to every project; bind sources under dir get a
// ContentHash (WithConfigRoot(dir)).
func LoadDir(ctx context.Context, dir string, opts ...DirOption) ([]model.Entry, error) {
	opts = append([]Option{WithConfigRoot(dir)}, opts...)
	o := collectOptions(opts)
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading config dir: %w", err)
	}
	var out []model.Entry
	owner := map[string]string{} // project name → path of the entry owning it
	for _, de := range des {
		path := filepath.Join(dir, de.Name())
		base, isDir, err := entryName(path, de)
		if base == "" {
			continue
		}
		e := model.Entry{Name: cgloader.NormalizeProjectName(base), Path: path}
		if err == nil {
			e.Name, e.Project, err = loadEntry(ctx, o, base, path, isDir)
		}
		e.Err = err
		if e.Err == nil && e.Project == nil {
			continue // Kubernetes data for the other files, not a project
		}
		if prev, ok := owner[e.Name]; ok && e.Name != "" {
			e.Name, e.Project, e.Err = "", nil, fmt.Errorf("%s: project name %q is already used by %s", path, e.Name, prev)
		} else if e.Name != "" {
			owner[e.Name] = path
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// entryName maps a dir entry to the name it is known by (a directory's
// name, a file's without .yaml/.yml) and whether it is a directory; ""
// for what is not a project: hidden files, editor leftovers, settings
// files. A symlink is followed; a dangling one is an error, not skipped.
func entryName(path string, de os.DirEntry) (string, bool, error) {
	n := de.Name()
	if strings.HasPrefix(n, ".") {
		return "", false, nil
	}
	isDir := de.IsDir()
	if de.Type()&os.ModeSymlink != 0 {
		fi, err := os.Stat(path)
		if err != nil {
			base := strings.TrimSuffix(strings.TrimSuffix(n, ".yaml"), ".yml")
			return base, false, fmt.Errorf("%s: following symlink: %w", path, err)
		}
		isDir = fi.IsDir()
	}
	if isDir {
		return n, true, nil
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if base, ok := strings.CutSuffix(n, ext); ok && base != "berth" {
			return base, false, nil
		}
	}
	return "", false, nil
}

// ProjectName is the project name an entry called base (a file's name
// without .yaml/.yml, or a directory's) gets, as docker compose normalises
// it: lower case, only letters, digits, '-' and '_'.
func ProjectName(base string) string { return cgloader.NormalizeProjectName(base) }

// KubeLoader loads a Kubernetes YAML file as project name. Package
// compose/kube provides it (kube.Load); it imports compose, so compose
// cannot call it directly.
type KubeLoader func(ctx context.Context, name, path string) (*model.Project, error)

// DirOption changes how LoadDir loads entries; every Option is one.
type DirOption = Option

// WithKubeLoader makes LoadDir load files holding apiVersion and kind with
// l; without it they are an error.
func WithKubeLoader(l KubeLoader) DirOption { return func(o *options) { o.kube = l } }

// loadEntry loads one entry of the config dir and returns its project
// name. The name is known (from the entry, .env or the files' `name:`) even
// when loading fails.
func loadEntry(ctx context.Context, o options, base, path string, isDir bool) (string, *model.Project, error) {
	name := cgloader.NormalizeProjectName(base)
	kube, err := isKubernetesEntry(path, isDir)
	if err != nil {
		return name, nil, err
	}
	if kube {
		if name == "" {
			return "", nil, fmt.Errorf("%s: project name: %q has no letter or digit to name the project by", path, base)
		}
		if o.kube == nil {
			return name, nil, fmt.Errorf("%s: Kubernetes YAML is not supported by this loader", path)
		}
		p, err := o.kube(ctx, name, path)
		return name, p, err
	}
	src, err := resolveSource(path, "", o)
	if err != nil {
		return name, nil, err
	}
	p, err := loadSource(ctx, src, false, o)
	return src.name, p, err
}

// isKubernetesEntry tells whether the entry at path is Kubernetes YAML: a
// file, or a directory with no compose file that holds Kubernetes files
// (one namespace, loaded as one project).
func isKubernetesEntry(path string, isDir bool) (bool, error) {
	if !isDir {
		return isKubernetes(path)
	}
	if len(existing(path, composeFileNames)) > 0 {
		return false, nil
	}
	if _, err := os.Stat(filepath.Join(path, ".env")); err == nil {
		return false, nil // COMPOSE_FILE may name the compose files
	}
	for _, pat := range []string{"*.yaml", "*.yml"} {
		files, _ := filepath.Glob(filepath.Join(path, pat))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && !fi.IsDir() && !strings.HasPrefix(filepath.Base(f), ".") {
				if ok, _ := isKubernetes(f); ok {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// isKubernetes tells Kubernetes YAML from Compose by apiVersion and kind.
func isKubernetes(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&head); err != nil {
		return false, nil // let the compose loader report the syntax error
	}
	return head.APIVersion != "" && head.Kind != "", nil
}
