package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// Verb is what a control command does to its targets.
type Verb string

const (
	VerbStop    Verb = "stop"
	VerbStart   Verb = "start"
	VerbRestart Verb = "restart"
)

// Restarter restarts a unit in place (systemctl restart): a fresh
// container from the same frozen spec. The Manager may implement it.
type Restarter interface {
	Restart(ctx context.Context, unit string) error
}

// ControlOptions say what Control does.
type ControlOptions struct {
	Load    func(ctx context.Context) (Loaded, error)
	Verb    Verb
	Args    []string
	Waiting func()
	// Report is called for each target handled: outcome is stopped,
	// started, restarted or "already running".
	Report func(t Target, outcome string)
}

// Control stops, starts or restarts the services Args names, as one pass
// under the reconcile lock, so the agent sees the intent and the unit
// state together. Stop records a "stopped" intent and stops the unit;
// start and restart forget it; restart restarts a running unit in place;
// a unit that is not running is created from the current config, as apply
// does for that one service. Only the projects of services it creates are
// allocated addresses.
func (r *Reconciler) Control(ctx context.Context, o ControlOptions) error {
	var (
		mu   sync.Mutex
		errs []error
		byU  = map[string]Target{}
		fail = func(t Target, err error) {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", o.Verb, t.Project, t.Service, err))
		}
		past = map[Verb]string{VerbStop: "stopped", VerbStart: "started", VerbRestart: "restarted"}[o.Verb]
	)
	if o.Report == nil {
		o.Report = func(Target, string) {}
	}
	selectTargets := func(ctx context.Context, entries []model.Entry, observed []Observed) (Scope, error) {
		targets, err := ResolveTargets(entries, observed, o.Args)
		if err != nil {
			return Scope{}, err
		}
		for _, t := range targets {
			outcome, err := r.control(ctx, o.Verb, t)
			switch {
			case err != nil:
				fail(t, err)
			case outcome == "":
				byU[t.Unit] = t // created by the pass
			default:
				o.Report(t, outcome)
			}
		}
		scope := Scope{Units: []string{}}
		for _, u := range slices.Sorted(maps.Keys(byU)) {
			scope.Units = append(scope.Units, u)
			if p := byU[u].Project; !slices.Contains(scope.Only, p) {
				scope.Only = append(scope.Only, p)
			}
		}
		return scope, nil
	}
	res, err := r.Pass(ctx, Options{
		Load:    o.Load,
		Waiting: o.Waiting,
		Select:  selectTargets,
		Progress: func(c Change, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fail(byU[c.Unit], fmt.Errorf("%s %s/%s: %w", c.Action, c.Project, c.Service, err))
				return
			}
			o.Report(byU[c.Unit], past)
		},
	})
	if err != nil {
		return err
	}
	// Targets the plan leaves as they are (a socket-activated service
	// waiting for its first connection) count as started.
	for _, c := range res.Plan.Changes {
		if c.Action == Keep && c.Desired != nil {
			o.Report(byU[c.Unit], past)
		}
	}
	if len(byU) > 0 {
		// The targets' projects failed to load or to get addresses.
		errs = append(errs, res.Plan.Errors...)
	}
	return errors.Join(append(errs, res.GCErr)...)
}

// control acts on one target under the lock. It returns "" when the
// target's unit is to be created by the pass, else what it did.
func (r *Reconciler) control(ctx context.Context, verb Verb, t Target) (string, error) {
	if verb == VerbStop {
		if err := SetIntent(ctx, r.StateDir, Intent{Unit: t.Unit, Project: t.Project, Service: t.Service, Stopped: true, At: time.Now()}); err != nil {
			return "", err
		}
		return "stopped", r.Manager.Stop(ctx, t.Unit)
	}
	if err := ClearIntent(ctx, r.StateDir, t.Unit); err != nil {
		return "", err
	}
	switch {
	case verb == VerbRestart && t.Running:
		rs, ok := r.Manager.(Restarter)
		if !ok {
			return "", errors.New("the unit manager cannot restart units")
		}
		return "restarted", rs.Restart(ctx, t.Unit)
	case t.Running:
		return "already running", nil
	case t.Desired == nil:
		return "", errors.New("no loaded file declares it any more")
	}
	return "", nil
}
