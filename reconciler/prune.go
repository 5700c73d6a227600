package reconciler

import (
	"context"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
)

// pruneSpecs deletes frozen specs that neither a desired service nor a
// unit systemd still has refers to: leftovers of an apply that was killed
// between writing a spec and starting or stopping its unit. It must run
// under the reconcile lock, so no concurrent apply is between those steps.
// A rolled-back unit's restored spec is kept too: after a reboot the agent
// creates the unit from it (createRestored).
func (r *Reconciler) pruneSpecs(ctx context.Context, entries []model.Entry, observed []Observed, memo *Memo, rbs Rollbacks) {
	keep := map[[2]string]bool{}
	for _, e := range entries {
		if e.Project == nil {
			continue
		}
		for i := range e.Project.Services {
			svc := &e.Project.Services[i]
			keep[[2]string{svc.ID(), memo.hash(svc)}] = true // with the memoised hash
		}
	}
	for _, o := range observed {
		if o.Project != "" {
			keep[[2]string{o.Project + "-" + o.Service, o.Hash}] = true
		}
	}
	for _, rb := range rbs {
		keep[[2]string{rb.Project + "-" + rb.Service, rb.Restored}] = true
	}
	for _, name := range r.specs().Prune(ctx, func(id, hash string) bool { return keep[[2]string{id, hash}] }) {
		r.Log.Debug("removed stale spec", "file", name)
	}
}

// pruneTemplates removes the template unit files of accepting sockets
// that no declared service and no socket still in place owns: leftovers of
// an apply killed between writing a template and starting its socket, or
// between stopping a socket and removing its template. It runs after
// apply, under the reconcile lock.
func (r *Reconciler) pruneTemplates(ctx context.Context, entries []model.Entry, plan *Plan) {
	files, ok := r.Manager.(RuntimeUnitFiles)
	if !ok {
		return
	}
	names, err := files.RuntimeUnits(ctx, units.Prefix+"*@.service")
	if err != nil {
		r.Log.Warn("listing template unit files", "err", err)
		return
	}
	keep := map[string]bool{}
	for _, e := range entries {
		if e.Project == nil {
			continue
		}
		for i := range e.Project.Services {
			if s := &e.Project.Services[i]; s.Accepts() {
				keep[units.TemplateName(s.Project, s.Name)] = true
			}
		}
	}
	for _, c := range plan.Changes {
		if c.Action == Keep {
			keep[units.TemplateOf(c.Unit)] = true // a broken file keeps its units
		}
	}
	for _, n := range names {
		if keep[n] {
			continue
		}
		if err := files.RemoveRuntimeUnit(ctx, n); err != nil {
			r.Log.Warn("removing a stale template unit file", "unit", n, "err", err)
			continue
		}
		r.Log.Debug("removed stale template unit file", "unit", n)
	}
}

// specs is the frozen-spec store under the state dir.
func (r *Reconciler) specs() paths.Specs { return paths.New("", r.StateDir, "").SpecStore() }

// PruneIntents forgets intents of units no entry declares any more.
func PruneIntents(ctx context.Context, stateDir string, entries []model.Entry, in Intents) {
	declared := map[string]bool{}
	for _, e := range entries {
		if e.Project == nil {
			declared["project:"+e.Name] = true
			continue
		}
		for i := range e.Project.Services {
			s := &e.Project.Services[i]
			declared[unitName(s)] = true
		}
	}
	for unit, i := range in {
		if !declared[unit] && !declared["project:"+i.Project] {
			_ = ClearIntent(ctx, stateDir, unit)
		}
	}
}
