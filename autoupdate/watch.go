package autoupdate

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// Units is the part of systemd the updater needs.
type Units interface {
	// Restart restarts unit and waits for the job: for berth's units the
	// job is done once the launcher handed the container over (and, for
	// notify services, the container said READY=1).
	Restart(ctx context.Context, unit string) error
	ResetFailed(ctx context.Context, unit string) error
	UnitStates
}

// UnitStates reads a unit's state: what a Watch needs of systemd.
type UnitStates interface {
	State(ctx context.Context, unit string) (UnitState, error)
}

// Recreator is implemented by Units that can put a service's unit back when
// systemd no longer has it. systemd unloads a transient unit once it is
// inactive: a dependent (Requires=) whose dependency failed to restart is
// stopped with it and then gone, and a restart cannot bring it back.
type Recreator interface {
	// Recreate starts unit again from svc, the frozen spec it ran, as
	// apply creates it: a new transient unit when systemd unloaded it.
	Recreate(ctx context.Context, unit string, svc *model.Service) error
}

// UnitState is what the soak watch reads of a unit.
type UnitState struct {
	// LoadState is "loaded" while systemd has the unit ("" is taken as
	// loaded); a transient unit that stopped is "not-found".
	LoadState   string
	ActiveState string // active, failed, activating …
	SubState    string
	Result      string // success, exit-code, …
	MainPID     int
	// Restarts is systemd's NRestarts: automatic restarts after a crash.
	Restarts uint32
}

// Containers tells which digest a service's container was started from.
type Containers interface {
	RunningDigest(ctx context.Context, svc *model.Service) (string, error)
}

// HealthStatus is a service's health as its health checks see it.
type HealthStatus string

// Health states, as docker names them.
const (
	HealthUnknown   HealthStatus = "" // no result yet, or no health check
	HealthStarting  HealthStatus = "starting"
	HealthHealthy   HealthStatus = "healthy"
	HealthUnhealthy HealthStatus = "unhealthy"
)

// Health reads the current health of a service's container. Implementations
// report HealthUnknown while no check result exists yet.
type Health interface {
	Status(ctx context.Context, svc *model.Service) (HealthStatus, error)
}

// Watch decides whether a unit that was just (re)started runs well. The
// updater watches each restart through it, and apply (package reconciler)
// each recreate, so both roll back on the same judgement.
type Watch struct {
	Units UnitStates
	// Containers reads the digest a container runs; nil skips that check.
	Containers Containers
	// Health reads health status; nil watches through the unit only.
	Health Health
	// Poll is how often the unit is looked at (default 250 ms).
	Poll time.Duration
}

// Run watches unit, just (re)started: it is active on digest ("" accepts
// any), a service with a health check passes one, and for the soak window
// after that the main process neither exits nor is replaced (NRestarts,
// MainPID), the unit never leaves active and health never turns unhealthy.
// A zero soak only checks that it is up. within, when positive, caps the
// wait for the first passing check (a unit's start timeout).
func (w Watch) Run(ctx context.Context, unit string, svc *model.Service, digest string, soak, within time.Duration) error {
	st, err := w.Units.State(ctx, unit)
	if err != nil {
		return err
	}
	if ended(svc, st) {
		return nil
	}
	if st.ActiveState != "active" {
		return fmt.Errorf("unit is %s/%s (result %s) right after start", st.ActiveState, st.SubState, st.Result)
	}
	pid, restarts := st.MainPID, st.Restarts
	if w.Containers != nil && digest != "" {
		got, err := w.Containers.RunningDigest(ctx, svc)
		if err != nil {
			return fmt.Errorf("reading the restarted container's digest: %w", err)
		}
		if got != digest {
			return fmt.Errorf("container runs %s, not %s", shortDigest(got), shortDigest(digest))
		}
	}
	checkHealth := w.Health != nil && svc != nil && svc.Health != nil
	start := time.Now()
	soakEnd := start.Add(soak)
	budget := max(soak, healthBudget(svc))
	if within > 0 {
		budget = min(budget, within)
	}
	healthyBy := start.Add(budget)
	healthy := false
	poll := w.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	for {
		if ended(svc, st) {
			return nil
		}
		if st.MainPID != pid || st.Restarts != restarts {
			return fmt.Errorf("container restarted after %s (main PID %d → %d, restarts %d → %d)",
				since(start), pid, st.MainPID, restarts, st.Restarts)
		}
		if st.ActiveState != "active" {
			return fmt.Errorf("unit became %s/%s (result %s) after %s", st.ActiveState, st.SubState, st.Result, since(start))
		}
		if checkHealth {
			hs, err := w.Health.Status(ctx, svc)
			if err != nil {
				return fmt.Errorf("reading health: %w", err)
			}
			switch hs {
			case HealthUnhealthy:
				return fmt.Errorf("unhealthy after %s", since(start))
			case HealthHealthy:
				healthy = true
			}
		}
		now := time.Now()
		if !now.Before(soakEnd) && (healthy || !checkHealth) {
			return nil
		}
		if checkHealth && !healthy && !now.Before(healthyBy) {
			return fmt.Errorf("no passing health check within %s", since(start))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("watching the started unit: %w", ctx.Err())
		case <-time.After(poll):
		}
		if st, err = w.Units.State(ctx, unit); err != nil {
			return err
		}
	}
}

// ended tells a service that is not restarted (restart: no) and whose
// container ran to its end with status 0: what it is meant to do, not a
// failure. A failed unit stays loaded, so one systemd no longer has ended
// well too.
func ended(svc *model.Service, st UnitState) bool {
	if svc == nil || (svc.Restart.Mode != model.RestartNo && svc.Restart.Mode != "") {
		return false
	}
	gone := st.LoadState != "" && st.LoadState != "loaded"
	return gone || (st.ActiveState == "inactive" || st.ActiveState == "deactivating") && st.Result == "success"
}

// watch is Run with the updater's parts.
func (u *Updater) watch(ctx context.Context, unit string, svc *model.Service, digest string, soak time.Duration) error {
	return Watch{Units: u.Units, Containers: u.Containers, Health: u.Health, Poll: u.Poll}.Run(ctx, unit, svc, digest, soak, 0)
}

// healthBudget is how long a service's health check may take to pass the
// first time: its start period plus as many tries as it has retries, as
// docker would take before calling it unhealthy.
func healthBudget(svc *model.Service) time.Duration {
	if svc == nil || svc.Health == nil {
		return 0
	}
	h := svc.Health
	interval := h.Interval
	if h.StartInterval > 0 {
		interval = h.StartInterval
	}
	tries := max(h.Retries, 1)
	return h.StartPeriod + time.Duration(tries)*(interval+h.Timeout)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }

// dependencyOrder returns idx sorted so that a service comes after the
// services of its project it depends on; otherwise the given order stays.
func dependencyOrder(results []Result, idx []int) []int {
	key := func(i int) string {
		s := results[i].Service
		return s.Project + "/" + s.Name
	}
	pos := map[string]int{}
	for _, i := range idx {
		pos[key(i)] = i
	}
	var out []int
	state := map[int]int{} // 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return // done, or a cycle (the loader refuses those): keep going
		}
		state[i] = 1
		s := results[i].Service
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			if j, ok := pos[s.Project+"/"+dep]; ok {
				visit(j)
			}
		}
		state[i] = 2
		out = append(out, i)
	}
	for _, i := range idx {
		visit(i)
	}
	return out
}
