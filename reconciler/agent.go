package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

// Job is a periodic task the agent runs next to reconciling, such as the
// auto-update check on its cron schedule. Runs of one job never overlap.
type Job struct {
	Name string
	// Next returns the next run time after now; the zero time stops the job.
	Next func(now time.Time) time.Time
	// Run does the work; its result (e.g. "2 updates pending") and error
	// show in `berth status`.
	Run func(ctx context.Context) (result string, err error)
}

// Agent keeps the units equal to the config dir, kubelet style: a full
// reconcile at start (which rebuilds every transient unit after a reboot),
// then one per debounced burst of config changes, per re-list tick, and
// shortly after a berth unit stops or fails (drift repair).
type Agent struct {
	Rec    *Reconciler
	Source *Source
	// Interval is the re-list period; a missed fsnotify event or an
	// unnoticed drift is repaired within it.
	Interval time.Duration
	// Quiet and MaxDelay debounce config changes (see Watch).
	Quiet, MaxDelay time.Duration
	// Subscribe, when set, streams the names of berth units whose state
	// changed, so drift is repaired without waiting for the tick.
	Subscribe func(ctx context.Context) (<-chan string, error)
	// Writes, when set, counts the D-Bus calls that change systemd's
	// state; each reconcile records how many it made.
	Writes func() int64
	// Ready is called once after the first reconcile (sd_notify READY=1).
	Ready func()
	// Settled, when set, is called after each reconcile that reloaded the
	// config or changed units: the agent then goes idle, and can give
	// the memory that pass used back to the system.
	Settled func()
	Jobs    []Job
	Log     *slog.Logger

	mu      sync.Mutex // guards status
	status  Status
	actions *actionLog
	backoff map[string]*backoffState
	known   map[string]bool // units the agent saw declared and present
	retry   *time.Timer     // fires when the earliest backoff ends
	gc      *GCGate         // network GC after passes that need one
	reload  bool            // the last pass failed: load afresh
}

type backoffState struct {
	failures int
	last     time.Time
	next     time.Time
}

// Backoff bounds: the first repair is immediate, then 1 s, 2 s, 4 s … 5 min.
const (
	backoffBase = time.Second
	backoffMax  = 5 * time.Minute
	// backoffReset: a unit seen running this long after its last repair
	// starts again from an immediate repair.
	backoffReset = time.Minute
)

// Run reconciles until ctx ends. Only a failure to start (no config dir)
// is returned; errors of single reconciles are logged, recorded in the
// status and retried at the next trigger.
func (a *Agent) Run(ctx context.Context) error {
	if a.Interval <= 0 {
		a.Interval = 30 * time.Second
	}
	if a.Quiet <= 0 {
		a.Quiet = 300 * time.Millisecond
	}
	if a.MaxDelay <= 0 {
		a.MaxDelay = 5 * time.Second
	}
	if _, err := os.Stat(a.Source.Dir); err != nil {
		return fmt.Errorf("config dir: %w", err)
	}
	a.actions = &actionLog{path: ActionLogPath(a.Rec.StateDir)}
	a.backoff = map[string]*backoffState{}
	a.known = map[string]bool{}
	a.status = Status{PID: os.Getpid(), Started: time.Now(), ConfigDir: a.Source.Dir, Interval: Duration(a.Interval),
		FileErrors: []FileError{}, Repairs: []Repair{}, Backoff: []Backoff{}, Stopped: []Intent{}, Jobs: []JobStatus{}}

	watchC, err := Watch(ctx, a.Source.Dir, a.Quiet, a.MaxDelay, a.Log)
	if err != nil {
		a.Log.Warn("not watching the config dir; re-listing only", "err", err)
	}
	var unitC <-chan string
	if a.Subscribe != nil {
		if unitC, err = a.Subscribe(ctx); err != nil {
			a.Log.Warn("no unit state signals; drift is repaired at the re-list", "err", err)
		}
	}
	a.Log.Info("agent started", "config_dir", a.Source.Dir, "interval", a.Interval)
	a.reconcile(ctx, "start", true)
	if a.Ready != nil {
		a.Ready()
	}
	var jobs sync.WaitGroup
	for i := range a.Jobs {
		jobs.Add(1)
		go func() { defer jobs.Done(); a.runJob(ctx, i) }()
	}
	defer jobs.Wait()

	ticker := time.NewTicker(a.Interval)
	defer ticker.Stop()
	a.retry = time.NewTimer(time.Hour)
	a.retry.Stop()
	var unitTimer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			a.Log.Info("agent stopping; the units keep running")
			return nil
		case _, ok := <-watchC:
			if !ok {
				watchC = nil
				continue
			}
			a.reconcile(ctx, "config", true)
		case <-ticker.C:
			a.reconcile(ctx, "relist", false)
		case _, ok := <-unitC:
			if !ok {
				unitC = nil
				continue
			}
			if unitTimer == nil {
				unitTimer = time.After(200 * time.Millisecond)
			}
		case <-unitTimer:
			unitTimer = nil
			a.reconcile(ctx, "unit", false)
		case <-a.retry.C:
			a.reconcile(ctx, "backoff", false)
		}
	}
}

// ReconcileOnce runs a single reconcile and returns its record (for `berth
// agent --once` and benchmarks): a full one, as at agent start, when first
// is set, else a re-list pass that reloads the config dir only if it changed.
func (a *Agent) ReconcileOnce(ctx context.Context, first bool) *ReconcileRecord {
	if a.actions == nil {
		a.actions = &actionLog{path: ActionLogPath(a.Rec.StateDir)}
		a.backoff = map[string]*backoffState{}
		a.known = map[string]bool{}
		a.status = Status{PID: os.Getpid(), Started: time.Now(), ConfigDir: a.Source.Dir, Interval: Duration(a.Interval)}
	}
	if !first {
		return a.reconcile(ctx, "relist", false)
	}
	return a.reconcile(ctx, "start", true)
}

func (a *Agent) writes() int64 {
	if a.Writes == nil {
		return 0
	}
	return a.Writes()
}

// reconcile is one Pass with the agent's bookkeeping: drift is marked
// and gated by backoff before applying, every action is logged and
// recorded, and the status keeps the file errors and stopped services.
func (a *Agent) reconcile(ctx context.Context, trigger string, force bool) *ReconcileRecord {
	rec := &ReconcileRecord{Start: time.Now(), Trigger: trigger}
	w0 := a.writes()
	defer func() {
		rec.Duration = Duration(time.Since(rec.Start))
		rec.Writes = a.writes() - w0
		a.finish(ctx, rec)
		if a.Settled != nil && (rec.Reloaded || rec.Changes > 0) {
			a.Settled()
		}
	}()
	if a.gc == nil {
		a.gc = &GCGate{}
	}
	// A pass that failed may have stopped before allocating what it
	// loaded; the next one loads afresh.
	force = force || a.reload
	a.reload = false
	res, err := a.Rec.Pass(ctx, Options{
		Load: func(ctx context.Context) (Loaded, error) {
			entries, fileErrs, reloaded, err := a.Source.Snapshot(ctx, force)
			rec.Reloaded = reloaded
			return Loaded{Entries: entries, FileErrors: fileErrs, Reloaded: reloaded, Memo: a.Source.Memo()}, err
		},
		LenientIntents: true,
		// A recreate that was rolled back waits for the files to change:
		// recreating the failed spec every pass would take the service
		// down each time.
		HoldRollbacks: true,
		Waiting:       func() { a.Log.Info("waiting for another berth apply to finish") },
		Review:        func(r *Result) { a.review(r, rec) },
		Progress:      a.progress,
		GC:            a.gc,
	})
	if err != nil {
		a.reload = true
		rec.Errors = append(rec.Errors, err.Error())
		a.Log.Error("reconcile failed", "trigger", trigger, "err", err)
		return rec
	}
	if res.ApplyErr != nil {
		for _, e := range unjoin(res.ApplyErr) {
			rec.Errors = append(rec.Errors, e.Error())
		}
	}
	a.remember(res.Plan)
	if res.GCErr != nil {
		rec.Errors = append(rec.Errors, res.GCErr.Error())
		a.Log.Error("network GC", "trigger", trigger, "err", res.GCErr)
	}

	a.mu.Lock()
	a.status.FileErrors = res.FileErrors
	a.status.Stopped = a.status.Stopped[:0]
	for _, in := range res.Intents {
		if in.Stopped {
			a.status.Stopped = append(a.status.Stopped, in)
		}
	}
	a.mu.Unlock()
	return rec
}

// review marks drift and gates it by backoff, and logs the plan.
func (a *Agent) review(r *Result, rec *ReconcileRecord) {
	p := r.Plan
	a.markVanished(p)
	a.gateBackoff(p, r.Observed)
	for _, e := range p.Errors {
		rec.Errors = append(rec.Errors, e.Error())
	}
	for _, c := range p.Changes {
		if c.Desired != nil {
			rec.Services++
		}
		if c.Action == Keep {
			continue
		}
		rec.Changes++
		attrs := []any{"action", c.Action, "unit", c.Unit}
		if c.Reason != "" {
			attrs = append(attrs, "reason", c.Reason)
		}
		if c.Repair != "" {
			a.Log.Warn("repairing drift", append(attrs, "drift", c.Repair)...)
		} else {
			a.Log.Info("planned change", attrs...)
		}
	}
}

// progress records every action and repair.
func (a *Agent) progress(c Change, err error) {
	msg := fmt.Sprintf("%s %s/%s", c.Action, c.Project, c.Service)
	if c.Reason != "" {
		msg += ": " + c.Reason
	}
	kind := string(c.Action)
	if c.Repair != "" {
		kind = "repair"
		a.noteRepair(c, err)
	}
	if err != nil {
		a.Log.Error("change failed", "action", c.Action, "unit", c.Unit, "err", err)
		a.actions.add(ActionEvent{Kind: "error", Unit: c.Unit, Message: msg + ": " + err.Error()})
		return
	}
	a.Log.Info("changed", "action", c.Action, "unit", c.Unit)
	a.actions.add(ActionEvent{Kind: kind, Unit: c.Unit, Message: msg})
	if a.Rec.Progress != nil {
		a.Rec.Progress(c, err)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// markVanished flags the create of a unit the agent saw running before:
// someone stopped it outside berth (`systemctl stop` unloads a transient
// unit), so putting it back is a repair.
func (a *Agent) markVanished(p *Plan) {
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == Create && a.known[c.Unit] {
			c.Repair = "unit was stopped outside berth"
			c.Reason = c.Repair
		}
	}
}

// gateBackoff holds back repairs of units still in their backoff window
// and forgets the backoff of units that have been running long enough.
func (a *Agent) gateBackoff(p *Plan, observed []Observed) {
	now := time.Now()
	active := map[string]bool{}
	for _, o := range observed {
		active[o.Unit] = o.ActiveState == "active"
	}
	var earliest time.Time
	for i := range p.Changes {
		c := &p.Changes[i]
		b := a.backoff[c.Unit]
		if b == nil {
			continue
		}
		if c.Repair == "" {
			if c.Action == Keep && active[c.Unit] && now.Sub(b.last) > backoffReset {
				delete(a.backoff, c.Unit)
			}
			continue
		}
		if now.Before(b.next) {
			c.Action = Keep
			c.Reason = fmt.Sprintf("%s; repair %d waits until %s (backoff)", c.Repair, b.failures+1, b.next.Format(time.TimeOnly))
			c.Repair = ""
			if earliest.IsZero() || b.next.Before(earliest) {
				earliest = b.next
			}
		}
	}
	if !earliest.IsZero() && a.retry != nil {
		a.retry.Reset(time.Until(earliest) + 10*time.Millisecond)
	}
	a.mu.Lock()
	a.status.Backoff = a.status.Backoff[:0]
	for unit, b := range a.backoff {
		a.status.Backoff = append(a.status.Backoff, Backoff{Unit: unit, Failures: b.failures, NextAttempt: b.next})
	}
	a.mu.Unlock()
}

// noteRepair records a repair attempt and schedules the backoff of the next.
func (a *Agent) noteRepair(c Change, err error) {
	now := time.Now()
	b := a.backoff[c.Unit]
	if b == nil {
		b = &backoffState{}
		a.backoff[c.Unit] = b
	}
	b.failures++
	b.last = now
	delay := backoffBase << (b.failures - 1)
	if delay > backoffMax || delay <= 0 {
		delay = backoffMax
	}
	b.next = now.Add(delay)
	r := Repair{Time: now, Unit: c.Unit, What: c.Repair, Attempt: b.failures}
	if err != nil {
		r.Error = err.Error()
	}
	a.mu.Lock()
	a.status.Repairs = append(a.status.Repairs, r)
	if n := len(a.status.Repairs); n > 50 {
		a.status.Repairs = a.status.Repairs[n-50:]
	}
	a.mu.Unlock()
}

// remember updates the set of units the agent saw declared and present.
func (a *Agent) remember(p *Plan) {
	known := map[string]bool{}
	for _, c := range p.Changes {
		if c.Desired != nil && (c.Current != nil || c.Action == Create) {
			known[c.Unit] = true
		}
	}
	for u := range a.backoff {
		if !known[u] {
			delete(a.backoff, u)
		}
	}
	a.known = known
}

// finish logs the pass and stores the status.
func (a *Agent) finish(ctx context.Context, rec *ReconcileRecord) {
	level := slog.LevelDebug
	if rec.Reloaded || rec.Changes > 0 || len(rec.Errors) > 0 || rec.Trigger == "start" {
		level = slog.LevelInfo
	}
	a.Log.Log(context.Background(), level, "reconciled", "trigger", rec.Trigger, "reloaded", rec.Reloaded,
		"services", rec.Services, "changes", rec.Changes, "errors", len(rec.Errors),
		"dbus_writes", rec.Writes, "duration", time.Duration(rec.Duration).Round(time.Microsecond))
	if rec.Changes > 0 || len(rec.Errors) > 0 {
		a.actions.add(ActionEvent{Kind: "reconcile", Message: fmt.Sprintf("reconciled (%s): %d changes, %d errors", rec.Trigger, rec.Changes, len(rec.Errors))})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status.Reconciles++
	a.status.Last = rec
	if rec.Changes > 0 {
		a.status.LastChange = rec
	}
	if err := WriteStatus(ctx, a.Rec.StateDir, &a.status); err != nil {
		a.Log.Warn("writing status failed", "err", err)
	}
}

// runJob runs job i on its schedule until ctx ends.
func (a *Agent) runJob(ctx context.Context, i int) {
	j := a.Jobs[i]
	a.mu.Lock()
	a.status.Jobs = append(a.status.Jobs, JobStatus{Name: j.Name})
	a.mu.Unlock()
	set := func(f func(*JobStatus)) {
		a.mu.Lock()
		defer a.mu.Unlock()
		for k := range a.status.Jobs {
			if a.status.Jobs[k].Name == j.Name {
				f(&a.status.Jobs[k])
			}
		}
		if err := WriteStatus(ctx, a.Rec.StateDir, &a.status); err != nil {
			a.Log.Warn("writing status failed", "err", err)
		}
	}
	for {
		next := j.Next(time.Now())
		if next.IsZero() {
			return
		}
		set(func(s *JobStatus) { s.NextRun = next })
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		a.Log.Info("running job", "job", j.Name)
		res, err := j.Run(ctx)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return
		}
		msg := res
		if err != nil {
			a.Log.Error("job failed", "job", j.Name, "err", err)
			msg = "failed: " + err.Error()
		} else {
			a.Log.Info("job done", "job", j.Name, "result", res)
		}
		a.actions.add(ActionEvent{Kind: "job", Message: j.Name + ": " + msg})
		set(func(s *JobStatus) {
			s.LastRun, s.Result, s.Error = time.Now(), res, ""
			if err != nil {
				s.Error = err.Error()
			}
		})
	}
}

func unitName(s *model.Service) string { return units.MainName(s) }
