package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/units"
)

// Watcher judges a unit that was just started: autoupdate.Watch, so apply
// and auto-update roll back on the same judgement (see Run there).
type Watcher interface {
	Run(ctx context.Context, unit string, svc *model.Service, digest string, soak, within time.Duration) error
}

// ApplySoak is how long a recreated container must run without exiting,
// restarting or turning unhealthy before apply keeps it, unless the
// service names its own soak (x-berth.soak). A crash at start shows within
// it; a longer one would slow every apply down.
const ApplySoak = 2 * time.Second

// ErrRolledBack is wrapped by the error of a recreate that failed and was
// rolled back: the previous container runs again.
var ErrRolledBack = errors.New("rolled back")

// RollbackError is a recreate that failed on the new spec (Cause). Restore
// is why putting the previous spec back failed too; nil when it runs again.
type RollbackError struct {
	Cause    error
	Restore  error
	Restored string // the spec hash running again
}

func (e *RollbackError) Error() string {
	if e.Restore != nil {
		return fmt.Sprintf("%v; rolling back to the previous spec %s failed too: %v", e.Cause, e.Restored, e.Restore)
	}
	return fmt.Sprintf("rolled back to the previous spec %s: %v", e.Restored, e.Cause)
}

// Unwrap makes errors.Is(err, ErrRolledBack) true only when the previous
// container runs again.
func (e *RollbackError) Unwrap() []error {
	if e.Restore != nil {
		return []error{e.Cause}
	}
	return []error{ErrRolledBack, e.Cause}
}

// previous is the spec a recreate can roll back to and its units.
type previous struct {
	svc *model.Service
	set *units.Set
}

// previousOf loads the frozen spec the running unit of c was made from.
// There is nothing to roll back to when the unit was not running (a repair
// of a failed unit) or its spec is gone or does not build.
func (r *Reconciler) previousOf(ctx context.Context, c Change) (*previous, error) {
	cur := c.Current
	if cur == nil || (cur.ActiveState != "active" && cur.ActiveState != "reloading") {
		return nil, errors.New("the previous unit was not running")
	}
	if c.Desired != nil && cur.Hash == c.Desired.Hash() {
		return nil, errors.New("it ran the same spec")
	}
	svc, err := r.specs().ForUnit(ctx, cur.Project, cur.Service, cur.Hash)
	if err != nil {
		return nil, err
	}
	path, err := r.specs().Path(svc)
	if err != nil {
		return nil, err
	}
	set, err := units.Build(r.Units, svc, path)
	if err != nil {
		return nil, err
	}
	return &previous{svc: svc, set: set}, nil
}

// recreate replaces the running unit of c with set (the new spec, saved
// at spec) as one transaction: when the new unit fails to start, or to
// become active, ready and healthy within its start timeout and stay so
// through its soak, the previous spec's unit is put back, the failure is
// recorded (Rollback) and the error wraps ErrRolledBack. NoRollback leaves
// the failed unit as it is.
func (r *Reconciler) recreate(ctx context.Context, c Change, set *units.Set, spec string) error {
	svc := c.Desired
	prev, noPrev := r.previousOf(ctx, c)
	if err := r.Manager.Stop(ctx, c.Unit); err != nil {
		return err
	}
	err := r.Manager.Start(ctx, set.Transient())
	if err == nil {
		err = r.verify(ctx, svc, ApplySoak)
	}
	if err == nil {
		if cerr := ClearRollback(ctx, r.StateDir, c.Unit); cerr != nil {
			r.Log.Warn("forgetting a rollback", "unit", c.Unit, "err", cerr)
		}
		return r.removeSpecs(ctx, svc.Project, svc.Name, spec)
	}
	switch {
	case r.NoRollback:
		return fmt.Errorf("%w (rollback disabled)", err)
	case prev == nil:
		return fmt.Errorf("%w (not rolled back: %v)", err, noPrev)
	}
	return r.rollback(ctx, c, prev, err)
}

// verify watches a started unit of svc, unless it is not meant to stay
// active: a job's start is its whole run, and a socket-activated service
// waits inactive for its first client. A zero soak uses svc's or dflt.
func (r *Reconciler) verify(ctx context.Context, svc *model.Service, dflt time.Duration) error {
	if r.Watch == nil || svc.Oneshot || len(svc.Sockets) > 0 {
		return nil
	}
	soak := dflt
	if svc.Soak > 0 && dflt > 0 {
		soak = svc.Soak
	}
	return r.Watch.Run(ctx, units.Name(svc.Project, svc.Name), svc, "", soak, units.StartTimeout(svc))
}

// rollback stops the failed unit of c and starts prev's again, waiting
// until it is up (and healthy, when it has a check), and records it.
func (r *Reconciler) rollback(ctx context.Context, c Change, prev *previous, cause error) error {
	r.Log.Warn("recreate failed; rolling back to the previous spec", "unit", c.Unit, "err", cause)
	// Stop also resets the failed unit, so the previous one can take its name.
	err := r.Manager.Stop(ctx, c.Unit)
	if err == nil {
		err = r.Manager.Start(ctx, prev.set.Transient())
	}
	if err == nil {
		err = r.verify(ctx, prev.svc, 0)
	}
	rb := Rollback{Unit: c.Unit, Project: c.Project, Service: c.Service, Failed: c.Desired.Hash(), Restored: c.Current.Hash,
		Reason: cause.Error(), At: time.Now().UTC()}
	msg := fmt.Sprintf("rolled back %s/%s to spec %s: %v", c.Project, c.Service, rb.Restored, cause)
	if err != nil {
		rb.RestoreError = err.Error()
		msg = fmt.Sprintf("rolling back %s/%s failed: %v (after: %v)", c.Project, c.Service, err, cause)
		r.Log.Error("rollback failed", "unit", c.Unit, "err", err)
	} else {
		r.Log.Warn("rolled back", "unit", c.Unit, "spec", rb.Restored, "failed_spec", rb.Failed, "reason", rb.Reason)
	}
	if rerr := RecordRollback(ctx, r.StateDir, rb); rerr != nil {
		r.Log.Warn("recording a rollback", "unit", c.Unit, "err", rerr)
	}
	(&actionLog{path: ActionLogPath(r.StateDir)}).add(ActionEvent{Kind: "rollback", Unit: c.Unit, Message: msg})
	return &RollbackError{Cause: cause, Restore: err, Restored: rb.Restored}
}
