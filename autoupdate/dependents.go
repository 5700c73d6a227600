package autoupdate

import (
	"context"
	"fmt"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// dependents returns the results outside members whose services depend,
// directly or through other services of their project, on a member:
// depends_on becomes Requires=, so systemd restarts them with the member and
// stops them when the member's start fails. They come in dependency order.
func dependents(results []Result, members []int) []int {
	in := map[int]bool{}
	affected := map[string]bool{} // project/service
	for _, i := range members {
		in[i] = true
		if s := results[i].Service; s != nil {
			affected[s.Project+"/"+s.Name] = true
		}
	}
	var out []int
	for grew := true; grew; {
		grew = false
		for i, r := range results {
			if in[i] || r.Service == nil {
				continue
			}
			for dep := range r.Service.DependsOn {
				if affected[r.Service.Project+"/"+dep] {
					in[i], grew = true, true
					affected[r.Service.Project+"/"+r.Service.Name] = true
					out = append(out, i)
					break
				}
			}
		}
	}
	return dependencyOrder(results, out)
}

// upNow reports which of idx's units are active now.
func (u *Updater) upNow(ctx context.Context, results []Result, idx []int) map[int]bool {
	up := map[int]bool{}
	for _, i := range idx {
		st, err := u.Units.State(ctx, results[i].Unit)
		up[i] = err == nil && st.ActiveState == "active"
	}
	return up
}

// restoreDependents brings back every dependent that ran before its
// dependency was updated or rolled back and is not running now. A dependent
// that cannot be brought back is reported failed.
func (u *Updater) restoreDependents(ctx context.Context, results []Result, deps []int, wasUp map[int]bool) {
	for _, i := range deps {
		if !wasUp[i] {
			continue // stopped before: not ours to start
		}
		r := &results[i]
		err := u.ensureUp(ctx, r.Unit, r.Service)
		if err == nil {
			continue
		}
		u.log().Error("auto-update could not restore a dependent", "unit", r.Unit, "err", err)
		r.Status, r.Err = StatusFailed, fmt.Errorf("restoring it after its dependency was restarted: %w", err)
		u.event(ctx, *r, "")
	}
}

// settleTimeout bounds how long a dependent may stay activating (or wait
// for a queued job) after its dependency's restart job is done.
const settleTimeout = 30 * time.Second

// ensureUp waits for unit to settle after systemd took it along with a
// dependency, and starts it again (recreating the transient unit if systemd
// unloaded it) when it ended stopped or failed. It then checks it is up.
func (u *Updater) ensureUp(ctx context.Context, unit string, svc *model.Service) error {
	poll := u.pollEvery()
	deadline := time.Now().Add(settleTimeout)
	inactiveSince := time.Time{}
	for {
		st, err := u.Units.State(ctx, unit)
		if err != nil {
			return err
		}
		gone := st.LoadState != "" && st.LoadState != "loaded"
		if st.ActiveState == "active" && !gone {
			return nil
		}
		if gone || st.ActiveState == "failed" {
			break
		}
		if st.ActiveState == "inactive" {
			// A restart's start job may still be queued behind its
			// dependency's: give it a moment before starting it ourselves.
			if inactiveSince.IsZero() {
				inactiveSince = time.Now()
			} else if time.Since(inactiveSince) > time.Second {
				break
			}
		} else {
			inactiveSince = time.Time{}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("unit still %s/%s after %s", st.ActiveState, st.SubState, settleTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
	u.log().Info("auto-update restoring a dependent", "unit", unit, "why", "stopped with its dependency")
	if err := u.start(ctx, unit, svc); err != nil {
		return err
	}
	return u.watch(ctx, unit, svc, "", 0)
}

// start restarts unit, or recreates it from svc when systemd no longer has
// it (see Recreator).
func (u *Updater) start(ctx context.Context, unit string, svc *model.Service) error {
	_ = u.Units.ResetFailed(ctx, unit)
	err := u.Units.Restart(ctx, unit)
	if err == nil {
		return nil
	}
	rc, ok := u.Units.(Recreator)
	if !ok || svc == nil {
		return err
	}
	st, serr := u.Units.State(ctx, unit)
	if serr != nil || st.LoadState == "" || st.LoadState == "loaded" {
		return err
	}
	if rerr := rc.Recreate(ctx, unit, svc); rerr != nil {
		// The agent's drift repair may have put the unit back meanwhile
		// (then creating it again fails): it runs, which is what we wanted.
		if st, serr := u.Units.State(ctx, unit); serr == nil && (st.LoadState == "" || st.LoadState == "loaded") && st.ActiveState == "active" {
			return nil
		}
		return fmt.Errorf("%w; recreating the unit from its spec: %w", err, rerr)
	}
	return nil
}

func (u *Updater) pollEvery() time.Duration {
	if u.Poll > 0 {
		return u.Poll
	}
	return 250 * time.Millisecond
}
