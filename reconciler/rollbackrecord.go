package reconciler

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// Rollback records a recreate that failed and was rolled back: the unit
// runs the Restored spec while the files ask for the Failed one. One small
// file per unit under <state>/agent/rollbacks, as intents are kept. The
// agent holds such a change instead of recreating the failed spec on every
// pass, until the files ask for another spec; `berth apply` retries it.
type Rollback struct {
	Unit     string    `json:"unit"`
	Project  string    `json:"project"`
	Service  string    `json:"service"`
	Failed   string    `json:"failed_spec"`
	Restored string    `json:"restored_spec"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	// RestoreError is set when the previous spec did not come back either.
	RestoreError string `json:"restore_error,omitempty"`
}

// Rollbacks are the recorded rollbacks by unit name.
type Rollbacks map[string]Rollback

func rollbackRecords(stateDir string) unitRecords[Rollback] {
	return newUnitRecords(stateDir, "rollback", func(rb Rollback) string { return rb.Unit })
}

// LoadRollbacks reads every recorded rollback; a missing dir means none.
func LoadRollbacks(ctx context.Context, stateDir string) (Rollbacks, error) {
	return rollbackRecords(stateDir).load()
}

// Sorted lists the rollbacks by unit.
func (rs Rollbacks) Sorted() []Rollback {
	out := make([]Rollback, 0, len(rs))
	for _, rb := range rs {
		out = append(out, rb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Unit < out[j].Unit })
	return out
}

// RecordRollback stores rb (atomically), replacing the unit's last one.
func RecordRollback(ctx context.Context, stateDir string, rb Rollback) error {
	return rollbackRecords(stateDir).put(rb)
}

// ClearRollback forgets the rollback recorded for unit, if any.
func ClearRollback(ctx context.Context, stateDir, unit string) error {
	return rollbackRecords(stateDir).clear(unit)
}

// pending reports whether c is the recreate rb rolled back: the unit still
// runs the restored spec and the files still ask for the failed one.
func (rb Rollback) pending(c *Change, memo *Memo) bool {
	return c.Action == Recreate && c.Current != nil && c.Desired != nil &&
		c.Current.Hash == rb.Restored && memo.hash(c.Desired) == rb.Failed
}

// NoteRollbacks marks the recreates that were rolled back. With hold (the
// agent) they become "unchanged": the failed spec is not tried again on
// every pass, only once the files ask for another spec or `berth apply`
// retries it. Without, the change stays pending and says why.
func (p *Plan) NoteRollbacks(rbs Rollbacks, hold bool, memo *Memo) {
	for i := range p.Changes {
		c := &p.Changes[i]
		rb, ok := rbs[c.Unit]
		if !ok || !rb.pending(c, memo) {
			continue
		}
		note := fmt.Sprintf("rolled back at %s: %s", rb.At.Local().Format(time.DateTime), rb.Reason)
		if hold {
			if notRunning(c.Current) {
				continue // brought back from its restored spec (createRestored)
			}
			c.Action, c.Repair = Keep, ""
			c.Reason = note + "; held until the files change (`berth apply` retries it)"
			continue
		}
		c.Reason += "; last attempt " + note
	}
}

// createRestored makes the agent create a rolled-back unit that is gone (a
// reboot unloads transient units) or stopped (still loaded, as another
// unit names it) from the spec it was rolled back to, not from the failed
// one its files still ask for: the service comes back as it ran before.
// The change then stays held as usual.
func (r *Reconciler) createRestored(ctx context.Context, res *Result) {
	for i := range res.Plan.Changes {
		c := &res.Plan.Changes[i]
		rb, ok := res.Rollbacks[c.Unit]
		gone := c.Action == Create || (c.Action == Recreate && notRunning(c.Current) && c.Current.Hash == rb.Restored)
		if !ok || !gone || c.Desired == nil || rb.RestoreError != "" || res.Memo.hash(c.Desired) != rb.Failed {
			continue
		}
		svc, err := r.specs().ForUnit(ctx, rb.Project, rb.Service, rb.Restored)
		if err != nil {
			r.Log.Warn("creating the failed spec of a rolled-back unit: its restored spec is gone", "unit", c.Unit, "err", err)
			continue
		}
		c.Desired = svc
		c.Reason = fmt.Sprintf("rolled back at %s: %s; creating the restored spec %s", rb.At.Local().Format(time.DateTime), rb.Reason, rb.Restored)
	}
}

// pruneRollbacks forgets rollbacks that no longer describe their unit: it
// runs what its files ask for (reverted or fixed) or is removed; a pass
// over every project (full) also forgets those of projects no entry has.
func pruneRollbacks(ctx context.Context, stateDir string, p *Plan, rbs Rollbacks, memo *Memo, entries []model.Entry, full bool) {
	byUnit := map[string]*Change{}
	for i := range p.Changes {
		byUnit[p.Changes[i].Unit] = &p.Changes[i]
	}
	declared := map[string]bool{}
	for _, e := range entries {
		declared[e.Name] = true
	}
	for unit, rb := range rbs {
		c := byUnit[unit]
		stale := c != nil && (c.Action == Remove ||
			(c.Action == Keep && c.Current != nil && c.Desired != nil && c.Current.Hash == memo.hash(c.Desired)))
		if stale || (full && c == nil && !declared[rb.Project]) {
			_ = ClearRollback(ctx, stateDir, unit)
		}
	}
}

// notRunning tells a unit that is stopped or failed, but still loaded.
func notRunning(cur *Observed) bool {
	return cur != nil && (cur.ActiveState == "inactive" || cur.ActiveState == "failed")
}
