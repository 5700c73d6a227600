package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
)

// OneOffRequest is what `berth run` asks for: a one-off container from the
// spec of Project/Service, like `docker compose run`.
type OneOffRequest struct {
	Project, Service string
	// ID is the one-off's short id: its name is <service>-run-<id>.
	ID string
	// Args replace the service's command when set; Entrypoint (a
	// command line, split on blanks) replaces its entrypoint when set.
	Args       []string
	Entrypoint []string
	Env        []string // KEY=VALUE
	User       string
	Workdir    string
	// Mounts are added to the service's (run -v, see ParseBind).
	Mounts []model.Mount
	// TTY gives the container a pty whose master the launcher's init
	// sends to OneOff.ConsoleSocket, where berth run listens (run -t).
	TTY bool
}

// OneOff is a prepared one-off container: its spec written, its address
// reserved, its unit built but not started. Release undoes all of it.
type OneOff struct {
	Service *model.Service
	Unit    *units.Unit
	// Deps are the services of its project it depends on (depends_on).
	Deps     []string
	SpecPath string
	// ConsoleSocket is where the caller listens for the pty (TTY only).
	ConsoleSocket string
}

// EnvOneOff marks a one-off's unit with project/service. Its unit carries
// no BERTH_PROJECT, so passes never see it as drift and never prune it.
const EnvOneOff = "BERTH_ONE_OFF"

// oneOffDir holds one-off specs (paths.Layout.OneOffs).
func (r *Reconciler) oneOffDir() string { return paths.New("", r.StateDir, "").OneOffs() }

// PrepareOneOff loads the desired state, copies the service's spec into a
// one-off (no ports, sockets, health checks, restarts or depends_on; runs
// to completion), reserves it an address on the service's networks and
// writes its spec. On error nothing is left behind.
func (r *Reconciler) PrepareOneOff(ctx context.Context, load func(context.Context) (Loaded, error), req OneOffRequest) (_ *OneOff, retErr error) {
	loaded, err := load(ctx)
	if err != nil {
		return nil, err
	}
	e, base, err := findService(loaded.Entries, req.Project, req.Service)
	if err != nil {
		return nil, err
	}
	svc, err := oneOffService(base, req)
	if err != nil {
		return nil, err
	}
	if err := model.CheckID(svc.Project, svc.Name); err != nil {
		return nil, err
	}
	// Under the reconcile lock, so no pass's network GC runs between the
	// reservation and the spec that keeps it.
	unlock, err := Lock(ctx, r.StateDir, nil)
	if err != nil {
		return nil, err
	}
	defer unlock()
	o := &OneOff{Deps: slices.Sorted(maps.Keys(base.DependsOn))}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, r.ReleaseOneOff(context.WithoutCancel(ctx), load, o))
		}
	}()
	o.Service = svc
	if r.Networks != nil {
		// The one-off joins its project as one more service, so Allocate
		// reserves it an address of its own on the service's networks.
		e.Project.Services = append(e.Project.Services, *svc)
		if err := r.Networks.Allocate(ctx, loaded.Entries, []string{req.Project}, true); err != nil {
			return nil, fmt.Errorf("reserving an address for %s: %w", svc.ID(), err)
		}
		if e.Err != nil {
			return nil, e.Err
		}
		svc = &e.Project.Services[len(e.Project.Services)-1]
		o.Service = svc
	}
	spec, err := paths.New("", r.StateDir, "").OneOffSpec(svc.ID())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(spec); err == nil {
		// Not o.SpecPath yet: Release must not remove the running one's.
		return nil, fmt.Errorf("a one-off %s-run-%s is already running (berth run --name)", req.Service, req.ID)
	}
	o.SpecPath = spec
	if req.TTY {
		if o.ConsoleSocket, err = paths.New("", r.StateDir, "").OneOffConsole(svc.ID()); err != nil {
			return nil, err
		}
	}
	set, err := units.Build(r.Units, svc, o.SpecPath)
	if err != nil {
		return nil, err
	}
	o.Unit = units.OneOff(set.Service, units.OneOffName(req.Project, req.Service, req.ID), EnvOneOff, req.Project+"/"+req.Service, svc.Image, o.SpecPath, o.ConsoleSocket)
	if err := paths.SaveOneOffSpec(ctx, o.SpecPath, svc); err != nil {
		return nil, err
	}
	return o, nil
}

// ReleaseOneOff removes the one-off's spec and its address reservation
// (network GC of its project, from the desired state without it).
func (r *Reconciler) ReleaseOneOff(ctx context.Context, load func(context.Context) (Loaded, error), o *OneOff) error {
	var errs []error
	if o.SpecPath != "" {
		if err := os.Remove(o.SpecPath); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(model.CredentialDir(o.SpecPath)); err != nil {
			errs = append(errs, err)
		}
		_ = os.Remove(r.oneOffDir()) // only when empty
	}
	if r.Networks != nil && o.Service != nil && len(o.Service.Networks) > 0 {
		loaded, err := load(ctx)
		if err == nil {
			err = r.Networks.GC(ctx, loaded.Entries, []string{o.Service.Project})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("releasing the address of %s: %w", o.Service.ID(), err))
		}
	}
	return errors.Join(errs...)
}

func findService(entries []model.Entry, project, service string) (*model.Entry, *model.Service, error) {
	for i := range entries {
		e := &entries[i]
		if e.Name != project {
			continue
		}
		if e.Project == nil {
			return nil, nil, fmt.Errorf("project %s does not load: %w", project, e.Err)
		}
		for j := range e.Project.Services {
			if e.Project.Services[j].Name == service {
				return e, &e.Project.Services[j], nil
			}
		}
		return nil, nil, fmt.Errorf("project %s has no service %q", project, service)
	}
	return nil, nil, fmt.Errorf("no project %q", project)
}

// oneOffService is a deep copy of base as docker compose run makes it: the
// command and overrides of req, no published ports (as without
// --service-ports), no socket activation, health checks, restarts or
// dependencies of its own, and it runs to completion.
func oneOffService(base *model.Service, req OneOffRequest) (*model.Service, error) {
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	var svc model.Service
	if err := json.Unmarshal(b, &svc); err != nil {
		return nil, err
	}
	// JSON leaves secrets out (they never go to disk in the clear); the
	// one-off's unit carries them as credentials, as the service's does.
	for i := range svc.Files {
		svc.Files[i].Content = base.Files[i].Content
	}
	for i := range svc.SecretEnv {
		svc.SecretEnv[i].Value = base.SecretEnv[i].Value
	}
	svc.Name = base.Name + "-run-" + req.ID
	svc.ContainerName, svc.Hostname = "", ""
	if len(req.Args) > 0 {
		svc.Command = req.Args
		if base.Pod != "" && len(base.Entrypoint) > 0 {
			// A pod container's `command:` is its entrypoint, mostly a
			// shell script that would take the command as its arguments:
			// the command replaces it, as kubectl run --command does.
			svc.Entrypoint, svc.Command = req.Args, nil
		}
	}
	if len(req.Entrypoint) > 0 {
		svc.Entrypoint, svc.Command = req.Entrypoint, req.Args
	}
	for _, kv := range req.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-e %q: want KEY=VALUE", kv)
		}
		if svc.Environment == nil {
			svc.Environment = map[string]string{}
		}
		svc.Environment[k] = v
	}
	if req.User != "" {
		svc.User = req.User
	}
	if req.Workdir != "" {
		svc.WorkingDir = req.Workdir
	}
	svc.Mounts = append(svc.Mounts, req.Mounts...)
	svc.Ports, svc.Sockets, svc.DependsOn = nil, nil, nil
	svc.Health, svc.Liveness, svc.HealthSource = nil, nil, ""
	svc.Notify, svc.Joiners, svc.Unit = model.NotifyRunning, nil, nil
	svc.Restart = model.Restart{Mode: model.RestartNo}
	svc.Oneshot, svc.AutoUpdate = true, ""
	return &svc, nil
}

// ParseBind parses a bind mount of `berth run -v SRC:DST[:ro|rw]`, as
// compose's short volume syntax: SRC is a host path, absolute or relative
// to cwd (the caller's working directory), and must exist; DST is absolute.
func ParseBind(arg, cwd string) (model.Mount, error) {
	parts := strings.Split(arg, ":")
	m := model.Mount{Type: model.MountBind}
	switch {
	case len(parts) == 3 && parts[2] == "ro":
		m.ReadOnly = true
	case len(parts) == 3 && parts[2] == "rw":
	case len(parts) != 2:
		return m, fmt.Errorf("-v %q: want SRC:DST or SRC:DST:ro (rw)", arg)
	}
	src, dst := parts[0], parts[1]
	if !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, ".") {
		return m, fmt.Errorf("-v %q: %q is not a host path (absolute, or ./relative); berth run mounts only host paths, declare named volumes in the file", arg, src)
	}
	if !strings.HasPrefix(dst, "/") {
		return m, fmt.Errorf("-v %q: the container path %q is not absolute", arg, dst)
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(cwd, src)
	}
	if _, err := os.Stat(src); err != nil {
		return m, fmt.Errorf("-v %q: %w", arg, err)
	}
	m.Source, m.Target = filepath.Clean(src), path.Clean(dst)
	return m, nil
}
