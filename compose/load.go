package compose

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadProject loads the project kept in dir (compose.yaml plus its override
// file and .env) or in the single file path NAME.yaml. compose-go does
// interpolation, .env, profiles, include, extends and the override merge;
// this package maps the result to the model, warning about every field it
// does not carry and failing with file, line and field on input that would
// run wrongly.
//
// name is the project name, as docker compose -p gives it; when it is empty
// the name is decided as docker compose decides it: COMPOSE_PROJECT_NAME in
// the project's .env, else the files' top-level `name:`, else the
// directory's (or a NAME.yaml file's) name, lowercased and stripped of
// characters a project name cannot hold.
func LoadProject(ctx context.Context, name, path string, opts ...Option) (*model.Project, error) {
	o := collectOptions(opts)
	src, err := resolveSource(path, name, o)
	if err != nil {
		return nil, err
	}
	return loadSource(ctx, src, name != "", o)
}

// loadSource loads a resolved project entry; explicit tells whether its
// name came from the caller.
func loadSource(ctx context.Context, src *projectSource, explicit bool, o options) (*model.Project, error) {
	for _, f := range src.files {
		if err := checkYAML(f); err != nil {
			return nil, err
		}
	}
	pos := newPositions(src.files[0])
	for _, f := range src.files {
		if err := pos.addFile(f); err != nil {
			return nil, err
		}
	}
	cp, err := loadCompose(ctx, src, o)
	if err != nil {
		err = explainSchemaError(fmt.Errorf("loading %s: %w", src.path, err))
		if located := pos.locateEnvFile(err, src.dir); located != err {
			return nil, located
		}
		return nil, pos.locate(err)
	}
	l := &loader{opts: o, dir: src.dir, files: src.files, cp: cp, pos: pos, warns: src.warns}
	env := map[string]string{}
	for k, v := range src.environ {
		env[k] = v
	}
	env[envProjectName] = src.name // compose-go sets it for interpolation
	l.warns = append(l.warns, notices(pos, env)...)
	if !explicit {
		return l.convert("")
	}
	return l.convert(src.name)
}

// loadCompose runs compose-go over the project's files.
func loadCompose(ctx context.Context, src *projectSource, o options) (*types.Project, error) {
	env := make([]string, 0, len(src.environ))
	for k, v := range src.environ {
		env = append(env, k+"="+v)
	}
	copts, err := cli.NewProjectOptions(src.files,
		cli.WithName(src.name),
		cli.WithWorkingDirectory(src.dir),
		cli.WithEnv(env),
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
	// relabel holds "file:line" of each bind mount asking for SELinux
	// relabelling (z or Z), reported once per project.
	relabel []string
}

func (l *loader) convert(name string) (*model.Project, error) {
	cp := l.cp
	p := &model.Project{Name: cp.Name, Dir: l.dir, Files: l.files}
	if name != "" && l.fileName() != "" && l.fileName() != name {
		l.warns = append(l.warns, fmt.Sprintf("%s: top-level field \"name\": %q is ignored; the project is named %q by the caller, as with docker compose -p",
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
	if err := l.acceptProject(p); err != nil {
		return nil, err
	}
	l.linkAliases(p)
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
	l.warnRelabel()
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
