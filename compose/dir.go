package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var projectNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// LoadDir loads every entry directly under dir: a directory holding
// compose.yaml, or a single NAME.yaml file. One broken entry is reported in
// its Entry and never hides the others. opts apply to every project; bind
// sources under dir get a ContentHash (WithConfigRoot(dir)).
func LoadDir(ctx context.Context, dir string, opts ...DirOption) ([]Entry, error) {
	opts = append([]Option{WithConfigRoot(dir)}, opts...)
	o := collectOptions(opts)
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading config dir: %w", err)
	}
	var out []Entry
	for _, de := range des {
		name, ok := entryName(de)
		if !ok {
			continue
		}
		e := Entry{Name: name, Path: filepath.Join(dir, de.Name())}
		if !projectNameRE.MatchString(name) {
			e.Err = fmt.Errorf("%s: project name %q must be lowercase letters, digits, '-' or '_'", e.Path, name)
		} else {
			e.Project, e.Err = loadEntry(ctx, o, name, e.Path, de.IsDir(), opts)
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// entryName maps a dir entry to its project name; hidden files, editor
// leftovers and settings files are not projects.
func entryName(de os.DirEntry) (string, bool) {
	n := de.Name()
	if strings.HasPrefix(n, ".") {
		return "", false
	}
	if de.IsDir() {
		return n, true
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if base, ok := strings.CutSuffix(n, ext); ok && base != "berth" {
			return base, true
		}
	}
	return "", false
}

// KubeLoader loads a Kubernetes YAML file as project name. Package
// compose/kube provides it (kube.Load); it imports compose, so compose
// cannot call it directly.
type KubeLoader func(ctx context.Context, name, path string) (*Project, error)

// DirOption changes how LoadDir loads entries; every Option is one.
type DirOption = Option

// WithKubeLoader makes LoadDir load files holding apiVersion and kind with
// l; without it they are an error.
func WithKubeLoader(l KubeLoader) DirOption { return func(o *options) { o.kube = l } }

func loadEntry(ctx context.Context, o options, name, path string, isDir bool, opts []Option) (*Project, error) {
	if !isDir {
		kube, err := isKubernetes(path)
		if err != nil {
			return nil, err
		}
		if kube {
			if o.kube == nil {
				return nil, fmt.Errorf("%s: Kubernetes YAML is not supported by this loader", path)
			}
			return o.kube(ctx, name, path)
		}
	}
	return LoadProject(ctx, name, path, opts...)
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
