package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// composeFileNames are the names docker compose looks for, in its order.
var composeFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// LoadProject loads the project kept in dir (compose.yaml plus its override
// file and .env) or in the single file path NAME.yaml. compose-go does
// interpolation, .env, profiles, include, extends and the override merge;
// this package maps the result to the model, warning about every field it
// does not carry and failing with file, line and field on input that would
// run wrongly.
//
// name is the project name; when it is empty the file's top-level `name:`
// (or the directory name) applies, as with docker compose without -p.
func LoadProject(ctx context.Context, name, path string, opts ...Option) (*Project, error) {
	o := collectOptions(opts)
	files, dir, err := projectFiles(path)
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	for i, f := range files {
		if err := checkYAML(f); err != nil {
			return nil, err
		}
		if files[i], err = filepath.Abs(f); err != nil {
			return nil, err
		}
	}
	pos := newPositions(files[0])
	for _, f := range files {
		if err := pos.addFile(f); err != nil {
			return nil, err
		}
	}
	cp, err := loadCompose(ctx, name, dir, files, o)
	if err != nil {
		return nil, pos.locate(fmt.Errorf("loading %s: %w", path, err))
	}
	l := &loader{opts: o, dir: dir, files: files, cp: cp, pos: pos}
	return l.convert(name)
}

// loadCompose runs compose-go over the project's files.
func loadCompose(ctx context.Context, name, dir string, files []string, o options) (*types.Project, error) {
	env := cli.WithOsEnv
	if o.environSet {
		env = cli.WithEnv(o.environ)
	}
	copts, err := cli.NewProjectOptions(files,
		cli.WithName(name),
		cli.WithWorkingDirectory(dir),
		env,
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithConfigFileEnv,
		cli.WithDefaultProfiles(o.profiles...),
		cli.WithResolvedPaths(true),
		// berth checks references itself, naming file and line; compose-go's
		// check would also refuse cpus next to deploy cpus, where berth lets
		// the deploy form win.
		cli.WithConsistency(false),
	)
	if err != nil {
		return nil, err
	}
	return copts.LoadProject(ctx)
}

// loader holds what converting one compose-go project needs.
type loader struct {
	opts  options
	dir   string
	files []string
	cp    *types.Project
	pos   *positions
	warns []string
}

func (l *loader) convert(name string) (*Project, error) {
	cp := l.cp
	p := &Project{Name: cp.Name, Dir: l.dir, Files: l.files}
	if name != "" && l.fileName() != "" && l.fileName() != name {
		l.warns = append(l.warns, fmt.Sprintf("%s: top-level field \"name\": %q is ignored; berth names the project %q after its entry in the config dir",
			l.pos.at("name"), l.fileName(), name))
	}
	for _, f := range l.pos.files {
		l.warns = append(l.warns, unsupportedFields(f, l.pos.docs[f])...)
	}
	l.warns = append(l.warns, extendedFields(l.pos)...)
	var errs []error
	var err error
	if p.Volumes, err = l.volumes(); err != nil {
		errs = append(errs, err)
	}
	if p.Networks, err = l.networks(); err != nil {
		errs = append(errs, err)
	}
	for _, sname := range cp.ServiceNames() {
		sc := cp.Services[sname]
		s, err := l.service(sc, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Services = append(p.Services, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := l.markOneshots(p); err != nil {
		return nil, err
	}
	if p.Services, err = l.dependencyOrder(p.Services); err != nil {
		return nil, err
	}
	// The units owner's rule: a service_healthy target reports ready once
	// its first health check passes.
	p.GateHealthy()
	if len(p.Networks) == 0 {
		p.Networks = nil
	}
	p.Warnings = sortWarnings(l.warns)
	return p, nil
}

// fileName is the top-level `name:` the files set, "" without one.
func (l *loader) fileName() string {
	var n string
	for _, f := range l.files {
		if v := l.pos.scalar(f, "name"); v != "" {
			n = v
		}
	}
	if strings.Contains(n, "$") {
		return "" // interpolated: compose-go's value is the one that counts
	}
	return n
}

// sortWarnings orders "file:line: …" warnings by file, then line number,
// and drops duplicates.
func sortWarnings(ws []string) []string {
	key := func(w string) (string, int) {
		file, rest, _ := strings.Cut(w, ":")
		n, _ := strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
		return file, n
	}
	sort.SliceStable(ws, func(i, j int) bool {
		fi, li := key(ws[i])
		fj, lj := key(ws[j])
		if fi != fj {
			return fi < fj
		}
		if li != lj {
			return li < lj
		}
		return ws[i] < ws[j]
	})
	var out []string
	for i, w := range ws {
		if i == 0 || w != ws[i-1] {
			out = append(out, w)
		}
	}
	return out
}

// projectFiles returns the compose files of a project entry and its dir.
func projectFiles(path string) (files []string, dir string, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !fi.IsDir() {
		return []string{path}, filepath.Dir(path), nil
	}
	for _, n := range composeFileNames {
		f := filepath.Join(path, n)
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
			break
		}
	}
	if len(files) == 0 {
		return nil, "", fmt.Errorf("%s: no compose.yaml in project directory", path)
	}
	base := strings.TrimSuffix(files[0], filepath.Ext(files[0]))
	for _, ext := range []string{".override.yaml", ".override.yml"} {
		if _, err := os.Stat(base + ext); err == nil {
			files = append(files, base+ext)
			break
		}
	}
	return files, path, nil
}
