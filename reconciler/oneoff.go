package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
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
}

// OneOff is a prepared one-off container: its spec written, its address
// reserved, its unit built but not started. Release undoes all of it.
type OneOff struct {
	Service *model.Service
	Unit    *units.Unit
	// Deps are the services of its project it depends on (depends_on).
	Deps     []string
	SpecPath string
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
	if base.Pod != "" || e.Project.Pod != nil {
		return nil, fmt.Errorf("%s/%s belongs to a pod: berth run supports Compose services only", req.Project, req.Service)
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
	if o.SpecPath, err = paths.New("", r.StateDir, "").OneOffSpec(svc.ID()); err != nil {
		return nil, err
	}
	set, err := units.Build(r.Units, svc, o.SpecPath)
	if err != nil {
		return nil, err
	}
	o.Unit = units.OneOff(set.Service, units.OneOffName(req.Project, req.Service, req.ID), EnvOneOff, req.Project+"/"+req.Service, svc.Image, o.SpecPath)
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
	svc.Name = base.Name + "-run-" + req.ID
	svc.ContainerName, svc.Hostname = "", ""
	if len(req.Args) > 0 {
		svc.Command = req.Args
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
	svc.Ports, svc.Sockets, svc.DependsOn = nil, nil, nil
	svc.Health, svc.Liveness, svc.HealthSource = nil, nil, ""
	svc.Notify, svc.Joiners, svc.Unit = model.NotifyRunning, nil, nil
	svc.Restart = model.Restart{Mode: model.RestartNo}
	svc.Oneshot, svc.AutoUpdate = true, ""
	return &svc, nil
}
