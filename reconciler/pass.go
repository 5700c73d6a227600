package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/berth-dev/berth/compose/model"
)

// Networks is the container networking the pass needs: addresses before
// planning, garbage collection after applying. runtime/network satisfies
// it (wired in cmd); a nil Networks skips both.
type Networks interface {
	// Allocate gives the services of the entries (only those of the named
	// projects when only is set) their networks: berth network names as
	// keys, addresses filled in. With reserve false nothing is written. A
	// project whose networks fail gets its entry's Err. It rewrites the
	// entries in place, so it runs once per load.
	Allocate(ctx context.Context, entries []model.Entry, only []string, reserve bool) error
	// GC re-renders hosts files and removes reservations, attachments and
	// networks no entry declares (with only set, judging only those
	// projects).
	GC(ctx context.Context, entries []model.Entry, only []string) error
}

// Loaded is what a pass plans from: the desired entries, pure (no
// allocation yet), and whether they are fresh from the config dir.
type Loaded struct {
	Entries    []model.Entry
	FileErrors []FileError
	// Reloaded is false when the entries are the same as the last pass's
	// (the agent's re-list of an unchanged dir): they are allocated already.
	Reloaded bool
	// Memo, when set, holds the entries' derived values across passes.
	Memo *Memo
	// Unknown says the desired state could not be loaded (berth down of a
	// broken config dir): nothing is judged by the entries, so specs,
	// intents and networks are kept.
	Unknown bool
}

// Scope narrows a pass to some projects and units.
type Scope struct {
	// Only names the projects planned, allocated and GC'd; empty is all.
	Only []string
	// Units, when not nil, are the only units the pass may change.
	Units []string
}

// nothing reports whether the scope lets the pass change no unit.
func (s Scope) nothing() bool { return s.Units != nil && len(s.Units) == 0 }

// Options say what one pass does.
type Options struct {
	// Load returns the desired state; it must not write to disk.
	Load func(ctx context.Context) (Loaded, error)
	Scope
	// Down names projects taken down: their entries are dropped as if
	// their files were deleted, every unit of theirs is removed, and only
	// they are planned; network GC then judges every project.
	Down []string
	// LenientIntents plans with no intents when they cannot be read (the
	// agent keeps going) instead of failing.
	LenientIntents bool
	// DryRun plans without taking the lock or writing anything: no
	// address reservation, spec, intent or unit change.
	DryRun bool
	// Waiting is called once if another pass holds the lock.
	Waiting func()
	// Select, when set, runs under the lock after observing and before
	// allocating: it scopes the pass from the pure entries and the units
	// (start/stop/restart resolve their arguments and act here).
	Select func(ctx context.Context, entries []model.Entry, observed []Observed) (Scope, error)
	// Review sees the plan before it is applied: the agent gates repairs
	// by backoff, apply prints it.
	Review func(r *Result)
	// NoRollback leaves a recreate that fails on its new spec failed
	// instead of putting the previous spec back (berth apply --no-rollback).
	NoRollback bool
	// HoldRollbacks keeps the recreates that were rolled back as they are
	// until the files ask for another spec (the agent); otherwise they are
	// tried again.
	HoldRollbacks bool
	// Starting and Progress report each action (see Reconciler).
	Starting func(c Change)
	Progress func(c Change, err error)
	// GC, when set, decides whether network GC runs after this pass (the
	// agent's gate); nil runs it after every pass that is not a dry run.
	GC *GCGate
}

// Result is what one pass saw and did.
type Result struct {
	Loaded
	Observed []Observed
	Intents  Intents
	// Rollbacks are the recreates rolled back before this pass.
	Rollbacks Rollbacks
	Plan      *Plan
	// Changes counts the changes applied (Keep excluded).
	Changes int
	// ApplyErr joins the errors of the applied changes.
	ApplyErr error
	// GCErr is network GC's error.
	GCErr error
}

// Err joins the plan's entry errors, apply's and GC's.
func (r *Result) Err() error {
	if r == nil || r.Plan == nil {
		return nil
	}
	return errors.Join(append(slices.Clip(r.Plan.Errors), r.ApplyErr, r.GCErr)...)
}

// Pass is one reconcile, the only one berth has: load → lock → observe →
// select → allocate → plan → intents → apply → prune → network GC. The
// agent runs it per trigger; plan (DryRun), apply, start/stop/restart and
// down run it once. Load errors, lock and observe failures are returned;
// per-entry, per-change and GC errors are in the Result.
func (r *Reconciler) Pass(ctx context.Context, o Options) (*Result, error) {
	loaded, err := o.Load(ctx)
	if err != nil {
		return nil, err
	}
	if loaded.Unknown && len(o.Down) == 0 {
		return nil, errors.New("the desired state could not be loaded")
	}
	res := &Result{Loaded: loaded}
	if !o.DryRun {
		unlock, err := Lock(ctx, r.StateDir, o.Waiting)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	if res.Observed, err = r.Manager.Observe(ctx); err != nil {
		return nil, err
	}
	scope := o.Scope
	if o.Select != nil {
		if scope, err = o.Select(ctx, res.Entries, res.Observed); err != nil {
			return nil, err
		}
	}
	if len(o.Down) > 0 {
		scope.Only = o.Down // planned from the units alone: nothing to allocate
	} else if err := r.allocate(ctx, res, scope, o.DryRun); err != nil {
		return nil, err
	}
	if res.Intents, err = LoadIntents(ctx, r.StateDir); err != nil {
		if !o.LenientIntents {
			return nil, err
		}
		r.Log.Warn("ignoring unreadable intents", "err", err)
		res.Intents = Intents{}
	}
	if res.Rollbacks, err = LoadRollbacks(ctx, r.StateDir); err != nil {
		r.Log.Warn("ignoring unreadable rollback records", "err", err)
		res.Rollbacks = Rollbacks{}
	}
	res.Plan = r.plan(ctx, res, scope, o.Down)
	if len(o.Down) == 0 {
		res.Plan.NoteRollbacks(res.Rollbacks, o.HoldRollbacks, res.Memo)
		if o.HoldRollbacks {
			r.createRestored(ctx, res)
		}
	}
	if o.Review != nil {
		o.Review(res)
	}
	if o.DryRun {
		return res, nil
	}
	for _, c := range res.Plan.Changes {
		if c.Action != Keep {
			res.Changes++
		}
	}
	if res.Changes > 0 {
		res.ApplyErr = r.applyReporting(ctx, res.Plan, o)
	}
	pruneRollbacks(ctx, r.StateDir, res.Plan, res.Rollbacks, res.Memo, res.Entries,
		!res.Unknown && len(scope.Only) == 0 && scope.Units == nil && len(o.Down) == 0)
	if !res.Unknown {
		r.prune(ctx, res, scope)
		r.collect(ctx, res, scope, o)
	}
	return res, nil
}

// collect runs network GC after the pass, when its gate says so: a down
// pass judges every project as if the downed projects' files were gone.
func (r *Reconciler) collect(ctx context.Context, res *Result, scope Scope, o Options) {
	if r.Networks == nil || scope.nothing() || !o.GC.due(res) {
		return
	}
	entries, only := res.Entries, scope.Only
	if len(o.Down) > 0 {
		entries = slices.DeleteFunc(slices.Clone(entries), func(e model.Entry) bool { return slices.Contains(o.Down, e.Name) })
		only = nil
	}
	res.GCErr = r.Networks.GC(ctx, entries, only)
	o.GC.done(res)
}

// allocate gives fresh entries their network addresses before anything
// hashes them: the spec hash covers the desired state plus the allocation.
// A project whose networks fail keeps its running units (its entry's Err).
func (r *Reconciler) allocate(ctx context.Context, res *Result, scope Scope, dryRun bool) error {
	if r.Networks == nil || !res.Reloaded || scope.nothing() {
		return nil
	}
	if err := r.Networks.Allocate(ctx, res.Entries, scope.Only, !dryRun); err != nil {
		return fmt.Errorf("allocating network addresses: %w", err)
	}
	return nil
}

// plan diffs the scoped entries against the units and respects intents.
func (r *Reconciler) plan(ctx context.Context, res *Result, scope Scope, down []string) *Plan {
	var p *Plan
	if len(down) > 0 {
		p = downPlan(res.Observed, down)
	} else {
		p = makePlan(res.Entries, res.Observed, scope.Only, res.Memo)
		p.RespectIntents(res.Intents)
	}
	if scope.Units != nil {
		p.Changes = slices.DeleteFunc(p.Changes, func(c Change) bool { return !slices.Contains(scope.Units, c.Unit) })
	}
	r.Explain(ctx, p)
	return p
}

// downPlan removes every unit of the projects, unit-file ones included.
func downPlan(observed []Observed, projects []string) *Plan {
	p := &Plan{}
	for i := range observed {
		if o := &observed[i]; slices.Contains(projects, o.Project) {
			p.Changes = append(p.Changes, Change{Action: Remove, Project: o.Project, Service: o.Service, Unit: o.Unit, Current: o})
		}
	}
	return p
}

// applyReporting applies p with the pass's reporters and rollback choice
// in place.
func (r *Reconciler) applyReporting(ctx context.Context, p *Plan, o Options) error {
	rr := *r
	if o.Starting != nil {
		rr.Starting = o.Starting
	}
	if o.Progress != nil {
		rr.Progress = o.Progress
	}
	rr.NoRollback = r.NoRollback || o.NoRollback
	return rr.Apply(ctx, p)
}

// prune deletes frozen specs no service or unit refers to, and intents of
// units no entry declares. Specs are judged only by a pass over every
// project: an unallocated service's hash is not its spec's.
func (r *Reconciler) prune(ctx context.Context, res *Result, scope Scope) {
	if len(scope.Only) == 0 && scope.Units == nil {
		r.pruneSpecs(ctx, res.Entries, res.Observed, res.Memo, res.Rollbacks)
		r.pruneTemplates(ctx, res.Entries, res.Plan)
	}
	PruneIntents(ctx, r.StateDir, res.Entries, res.Intents)
}
