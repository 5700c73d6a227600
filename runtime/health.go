package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
)

// Health states, as docker reports them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Docker's defaults for fields the model leaves zero.
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthRetries       = 3
	defaultHealthStartInterval = 5 * time.Second
)

// ProbeStatus is the recorded state of one probe.
type ProbeStatus struct {
	Status        string    `json:"status"`
	FailingStreak int       `json:"failing_streak"`
	LastCheck     time.Time `json:"last_check,omitzero"`
	LastExitCode  int       `json:"last_exit_code"`
	// LastOutput is the last check's combined output, at most
	// maxProbeOutput bytes, as docker keeps it.
	LastOutput string `json:"last_output,omitempty"`
}

// HealthRecord is <run>/containers/<id>/health.json: the compose
// healthcheck (or readiness probe) and the liveness probe of one container.
// It starts over with every new container (cleanup removes it).
type HealthRecord struct {
	Health   *ProbeStatus `json:"health,omitempty"`
	Liveness *ProbeStatus `json:"liveness,omitempty"`
}

// ReadHealth reads the record of container id; a container without one (no
// check ran yet, or none is configured) gives nil and no error.
func ReadHealth(runDir, id string) (*HealthRecord, error) {
	l, err := newLayout(Options{RunDir: orRunDir(runDir), StateDir: paths.DefaultStateDir}, id)
	if err != nil {
		return nil, err
	}
	return readHealth(healthFile(l))
}

func orRunDir(d string) string {
	if d == "" {
		return paths.DefaultRunDir
	}
	return d
}

func healthFile(l layout) string { return filepath.Join(l.runDir, "health.json") }

func readHealth(path string) (*HealthRecord, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading health: %w", err)
	}
	var h HealthRecord
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return &h, nil
}

// ErrNotRunning is returned by health checks of a container that is not
// running (stopped, restarting, or never started).
var ErrNotRunning = errors.New("container is not running")

// HealthResult is what one round of CheckHealth found.
type HealthResult struct {
	Record *HealthRecord
	// LivenessFailed is set when the liveness probe has failed more than
	// its retries: the caller restarts the unit.
	LivenessFailed bool
}

// CheckHealth runs one round of svc's probes in its running container, as
// the health timer's `berth healthcheck` does: every probe whose interval
// has passed since its last check runs once. While a probe is in its start
// period and has not passed yet, the round keeps checking at start_interval
// until it passes or the period ends, so the timer itself only needs to
// fire every interval.
func CheckHealth(ctx context.Context, opts Options, svc *model.Service) (*HealthResult, error) {
	opts = opts.withDefaults()
	l, err := newLayout(opts, svc.ID())
	if err != nil {
		return nil, err
	}
	for {
		res, wait, err := checkRound(ctx, opts, l, svc)
		if err != nil || wait <= 0 {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, nil
		case <-time.After(wait):
		}
	}
}

// checkRound runs the due probes once and says how long to wait before the
// next round of the start phase (0: the round is over).
func checkRound(ctx context.Context, opts Options, l layout, svc *model.Service) (*HealthResult, time.Duration, error) {
	st, err := ReadState(opts.RunDir, svc.ID())
	if err != nil || !alive(st.Pid) {
		return nil, 0, ErrNotRunning
	}
	unlock, err := lockHealth(l)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	rec, err := readHealth(healthFile(l))
	if err != nil {
		return nil, 0, err
	}
	if rec == nil {
		rec = &HealthRecord{}
	}
	now := time.Now()
	res := &HealthResult{Record: rec}
	var wait time.Duration
	for _, p := range []struct {
		h    *model.Health
		stat **ProbeStatus
	}{{svc.Health, &rec.Health}, {svc.Liveness, &rec.Liveness}} {
		if p.h == nil {
			continue
		}
		if *p.stat == nil {
			*p.stat = &ProbeStatus{Status: HealthStarting}
		}
		ps := *p.stat
		starting := inStartPeriod(p.h, st.Started, now) && ps.Status == HealthStarting
		every := orDur(p.h.Interval, defaultHealthInterval)
		if starting {
			every = orDur(p.h.StartInterval, defaultHealthStartInterval)
		}
		// The timer fires at the shortest interval of all probes; a
		// little slack keeps a probe from skipping a tick by microseconds.
		if ps.LastCheck.IsZero() || now.Sub(ps.LastCheck) >= every-every/10 {
			r := runProbe(ctx, l, svc.ID(), st, p.h)
			record(ps, p.h, r, inStartPeriod(p.h, st.Started, time.Now()))
		}
		if ps.Status == HealthStarting && inStartPeriod(p.h, st.Started, time.Now()) {
			if wait == 0 || every < wait {
				wait = every
			}
		}
		if p.h == svc.Liveness && ps.Status == HealthUnhealthy {
			res.LivenessFailed = true
		}
	}
	if err := writeHealth(healthFile(l), rec); err != nil {
		return nil, 0, err
	}
	return res, wait, nil
}

func inStartPeriod(h *model.Health, started, now time.Time) bool {
	return h.StartPeriod > 0 && now.Before(started.Add(h.StartPeriod))
}

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// record applies docker's rules: a pass makes the probe healthy and resets
// the streak; a failure counts towards retries, except during the start
// period before the first pass.
func record(ps *ProbeStatus, h *model.Health, r probeResult, startPeriod bool) {
	ps.LastCheck = time.Now().UTC()
	ps.LastExitCode = r.code
	ps.LastOutput = r.output
	if r.code == 0 {
		ps.Status, ps.FailingStreak = HealthHealthy, 0
		return
	}
	if startPeriod && ps.Status == HealthStarting {
		return
	}
	ps.FailingStreak++
	retries := h.Retries
	if retries <= 0 {
		retries = defaultHealthRetries
	}
	if ps.FailingStreak >= retries {
		ps.Status = HealthUnhealthy
	}
}

func writeHealth(path string, h *HealthRecord) error {
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("writing health: %w", err)
	}
	return nil
}

// lockHealth serialises the launcher's first checks and the timer's, which
// may overlap right after a restart.
func lockHealth(l layout) (func(), error) {
	unlock, err := paths.Lock(context.Background(), filepath.Join(l.runDir, "health.lock"), paths.Exclusive)
	if err != nil {
		return nil, fmt.Errorf("locking health record: %w", err)
	}
	return unlock, nil
}

// alive reports whether pid still exists (and is not a zombie).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
		}
	}
	return true
}

// waitHealthy is the launcher's readiness gate for NotifyHealthy: it checks
// the health probe (docker's timing: the first check after start_interval,
// or interval without a start period) until it passes, recording each
// result as the timer would. It fails when the probe turns unhealthy or the
// container exits; systemd's TimeoutStartSec bounds the whole wait.
func waitHealthy(ctx context.Context, opts Options, svc *model.Service) error {
	l, err := newLayout(opts, svc.ID())
	if err != nil {
		return err
	}
	h := svc.Health
	only := *svc
	only.Liveness = nil // the timer runs liveness probes once the unit is active
	for {
		st, err := ReadState(opts.RunDir, svc.ID())
		if err != nil {
			return err
		}
		every := orDur(h.Interval, defaultHealthInterval)
		if inStartPeriod(h, st.Started, time.Now()) {
			every = orDur(h.StartInterval, defaultHealthStartInterval)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the first passing health check: %w", ctx.Err())
		case <-time.After(every):
		}
		res, _, err := checkRound(ctx, opts, l, &only)
		if errors.Is(err, ErrNotRunning) {
			return fmt.Errorf("container exited before its first passing health check")
		}
		if err != nil {
			return err
		}
		switch ps := res.Record.Health; ps.Status {
		case HealthHealthy:
			return nil
		case HealthUnhealthy:
			return fmt.Errorf("container is unhealthy (%d failing checks, last exit %d): %s", ps.FailingStreak, ps.LastExitCode, ps.LastOutput)
		}
	}
}
