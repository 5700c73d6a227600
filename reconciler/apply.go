package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

// Manager is the part of systemd the reconciler needs.
type Manager interface {
	Observe(ctx context.Context) ([]Observed, error)
	Start(ctx context.Context, u *units.Unit) error
	Stop(ctx context.Context, unit string) error
}

// Puller fetches an image ahead of a (re)start, so a recreate's downtime is
// the restart alone. A pull error is reported; berth run retries it.
type Puller interface {
	Pull(ctx context.Context, ref string) error
}

// Reconciler applies plans.
type Reconciler struct {
	Manager Manager
	Puller  Puller  // optional
	Builder Builder // optional; see build.go
	// Networks allocates addresses before planning and collects garbage
	// after applying; nil (tests) skips both.
	Networks Networks
	Units    units.Config
	// Watch judges each recreated unit before the previous spec is let go
	// (see recreate); nil trusts the start job alone.
	Watch Watcher
	// NoRollback leaves a recreate that fails failed (see Options).
	NoRollback bool
	StateDir   string
	Log        *slog.Logger
	// Starting, when set, is called as an action begins (after the
	// pulls), and Progress as it ends, with its error: one line per
	// action taken. Both are called from several goroutines.
	Starting func(c Change)
	Progress func(c Change, err error)
}

// Apply carries out the plan. Images of every create and recreate are
// pulled first, once per distinct image, so a recreate's downtime is the
// restart alone. Removals then run concurrently (each may wait out a stop
// grace period, as docker compose down does in parallel). Creates and
// recreates follow with bounded parallelism: a service waits for the
// services it depends on (DependsOn) that the plan also starts, and the
// plan's order (the loader's dependency order) breaks ties. One failing
// service is reported and never stops the others; all failures are returned
// joined.
func (r *Reconciler) Apply(ctx context.Context, p *Plan) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	do := func(c Change) error {
		if r.Starting != nil {
			r.Starting(c)
		}
		err := r.apply(ctx, c)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", c.Action, c.Project, c.Service, err))
		}
		if r.Progress != nil {
			r.Progress(c, err)
		}
		return err
	}
	r.pullAll(ctx, p)
	sem := make(chan struct{}, maxParallelStops)
	for _, c := range p.Changes {
		if c.Action == Remove {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				do(c)
			}()
		}
	}
	wg.Wait()

	starts := make(chan struct{}, maxParallelStarts)
	nodes := startGraph(p)
	for _, c := range p.Changes {
		if c.Action != Create && c.Action != Recreate {
			continue
		}
		n := nodes[c.Project+"/"+c.Service]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(n.finished)
			for _, d := range n.deps {
				<-nodes[d].finished
			}
			starts <- struct{}{}
			defer func() { <-starts }()
			do(c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startNode is one create or recreate and the starts (by project/service)
// it waits for.
type startNode struct {
	deps     []string
	finished chan struct{}
}

// startGraph says which creates and recreates wait for which: a pod's
// containers for its sandbox unit and a service for its depends_on (when
// the plan starts them earlier), and a container sharing another's network
// namespace (network_mode service: or container:, possibly of another
// project and later in the plan) for that container, whose unit it is
// bound to and which must exist first. A peer wait that would close a
// cycle is left out.
func startGraph(p *Plan) map[string]*startNode {
	nodes := map[string]*startNode{}
	var order []string
	for _, c := range p.Changes {
		if c.Action != Create && c.Action != Recreate {
			continue
		}
		key := c.Project + "/" + c.Service
		n := &startNode{finished: make(chan struct{})}
		// A pod's containers join its sandbox: they wait for its unit.
		if c.Desired != nil && c.Desired.Pod != "" {
			if pod := c.Project + "/" + c.Desired.PodService(); nodes[pod] != nil {
				n.deps = append(n.deps, pod)
			}
		}
		if c.Desired != nil {
			for dep := range c.Desired.DependsOn {
				if _, ok := nodes[c.Project+"/"+dep]; ok {
					n.deps = append(n.deps, c.Project+"/"+dep)
				}
			}
		}
		nodes[key] = n
		order = append(order, key)
	}
	for _, c := range p.Changes {
		if (c.Action != Create && c.Action != Recreate) || c.Desired == nil {
			continue
		}
		project, service, ok := units.NetnsPeer(c.Desired)
		key, peer := c.Project+"/"+c.Service, project+"/"+service
		if _, planned := nodes[peer]; ok && planned && peer != key && !reaches(nodes, peer, key) {
			nodes[key].deps = append(nodes[key].deps, peer)
		}
	}
	return nodes
}

// reaches reports whether from waits, directly or not, for to.
func reaches(nodes map[string]*startNode, from, to string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(k string) bool {
		if k == to {
			return true
		}
		if seen[k] {
			return false
		}
		seen[k] = true
		for _, d := range nodes[k].deps {
			if walk(d) {
				return true
			}
		}
		return false
	}
	return walk(from)
}

// maxParallelStops bounds concurrent stop jobs.
const maxParallelStops = 8

// maxParallelStarts bounds concurrent starts of independent services; each
// start is a launcher process setting up a rootfs, so more would only
// contend for the CPU of a small host.
const maxParallelStarts = 4

// pullAll pulls every distinct image the plan starts, a few at a time. A
// pull error is logged; the unit's own start retries and reports it.
func (r *Reconciler) pullAll(ctx context.Context, p *Plan) {
	if r.Puller == nil {
		return
	}
	seen := map[string]bool{}
	var refs []string
	for _, c := range p.Changes {
		// pull_policy: never means the image must already be there; the
		// launcher says so when it is not.
		if (c.Action == Create || c.Action == Recreate) && c.Desired != nil && c.Desired.PullPolicy != model.PullNever && !seen[c.Desired.Image] {
			seen[c.Desired.Image] = true
			refs = append(refs, c.Desired.Image)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelPulls)
	for _, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := r.Puller.Pull(ctx, ref); err != nil {
				r.Log.Warn("pull failed; the unit will retry", "image", ref, "err", err)
			}
		}()
	}
	wg.Wait()
}

const maxParallelPulls = 3

func (r *Reconciler) apply(ctx context.Context, c Change) error {
	switch c.Action {
	case Remove:
		if err := r.Manager.Stop(ctx, c.Unit); err != nil {
			return err
		}
		// An accepting socket's template goes with it; its instances
		// stopped with it (PartOf=).
		if err := r.removeTemplate(ctx, c.Unit); err != nil {
			return err
		}
		if units.IsPodService(c.Service) {
			return nil // a pod unit has no frozen spec
		}
		if err := ClearRollback(ctx, r.StateDir, c.Unit); err != nil {
			r.Log.Warn("forgetting a rollback", "unit", c.Unit, "err", err)
		}
		return r.removeSpecs(ctx, c.Project, c.Service)
	case Create, Recreate:
		if c.Pod != nil {
			return r.applyPod(ctx, c)
		}
		svc := c.Desired
		if err := r.build(ctx, svc); err != nil {
			return err
		}
		// Bad unit input (x-berth.unit, sockets) fails this service before
		// anything running is touched.
		specPath, err := r.specs().Path(svc)
		if err != nil {
			return err
		}
		set, err := units.Build(r.Units, svc, specPath)
		if err != nil {
			return err
		}
		spec, err := r.specs().Save(ctx, svc)
		if err != nil {
			return err
		}
		if c.Current != nil {
			return r.recreate(ctx, c, set, spec)
		}
		// A socket-activated service starts through its .socket unit, on
		// the first connection; Transient says which unit to start.
		if err := r.Manager.Start(ctx, set.Transient()); err != nil {
			return err
		}
		return r.removeSpecs(ctx, svc.Project, svc.Name, spec)
	}
	return nil
}

// RuntimeUnitFiles are the unit files a Manager writes for units that
// cannot be transient (an accepting socket's template, see
// units.Unit.Files); cmd's manager implements it.
type RuntimeUnitFiles interface {
	RemoveRuntimeUnit(ctx context.Context, name string) error
	RuntimeUnits(ctx context.Context, pattern string) ([]string, error)
}

// removeTemplate removes the template file of unit when unit is an
// accepting socket; for other units it does nothing.
func (r *Reconciler) removeTemplate(ctx context.Context, unit string) error {
	files, ok := r.Manager.(RuntimeUnitFiles)
	tpl := units.TemplateOf(unit)
	if !ok || tpl == "" {
		return nil
	}
	return files.RemoveRuntimeUnit(ctx, tpl)
}

// applyPod (re)starts a pod sandbox unit; restarting it stops the pod's
// containers (BindsTo=), which the plan recreates after it. A stopped pod unit stays loaded while failed container units still
// refer to it (BindsTo=), and a loaded unit cannot be started as a new
// transient unit; so the members are stopped (and their failed state reset)
// first, which lets systemd unload the old pod unit.
func (r *Reconciler) applyPod(ctx context.Context, c Change) error {
	if c.Current != nil {
		for i := range c.Pod.Services {
			svc := &c.Pod.Services[i]
			if svc.Pod != c.Sandbox.Name {
				continue
			}
			if err := r.Manager.Stop(ctx, units.Name(svc.Project, svc.Name)); err != nil {
				return err
			}
		}
		if err := r.Manager.Stop(ctx, c.Unit); err != nil {
			return err
		}
	}
	return r.Manager.Start(ctx, units.Pod(r.Units, c.Project, c.Sandbox))
}

// removeSpecs deletes the frozen specs of project/service except keep. The
// names come from a unit's environment: one that is not a valid ID (see
// paths.Specs.Files) deletes nothing.
func (r *Reconciler) removeSpecs(ctx context.Context, project, service string, keep ...string) error {
	except := ""
	if len(keep) > 0 {
		except = keep[0]
	}
	return r.specs().RemoveService(ctx, project, service, except)
}
