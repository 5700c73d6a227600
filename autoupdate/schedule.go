package autoupdate

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// The default schedule: once a day, at a random moment in the quarter hour
// after midnight, like systemd/dist/berth-auto-update.timer (OnCalendar=daily,
// RandomizedDelaySec=900), so a fleet does not hit its registry at once.
const (
	DefaultSchedule        = "@daily"
	DefaultRandomizedDelay = 15 * time.Minute
)

// Schedule is when the agent runs auto-update: a robfig/cron spec (five
// fields, or a descriptor such as @daily, @hourly, @every 6h) plus a random
// delay added to each run.
type Schedule struct {
	Spec  string
	Delay time.Duration
	cron  cron.Schedule
	// jitter returns a delay in [0, n); tests make it fixed.
	jitter func(n time.Duration) time.Duration
}

// ParseSchedule parses spec ("" is DefaultSchedule) with randomized delay
// delay (< 0 is none, 0 is DefaultRandomizedDelay).
func ParseSchedule(spec string, delay time.Duration) (*Schedule, error) {
	if spec == "" {
		spec = DefaultSchedule
	}
	switch {
	case delay == 0:
		delay = DefaultRandomizedDelay
	case delay < 0:
		delay = 0
	}
	c, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("auto-update schedule %q: %w (want five cron fields, e.g. \"30 3 * * *\", or @daily, @hourly, @every 6h)", spec, err)
	}
	return &Schedule{Spec: spec, Delay: delay, cron: c, jitter: func(n time.Duration) time.Duration { return rand.N(n) }}, nil
}

// Next is the first run after t: the cron time plus a random delay.
func (s *Schedule) Next(t time.Time) time.Time {
	next := s.cron.Next(t)
	if s.Delay > 0 {
		next = next.Add(s.jitter(s.Delay))
	}
	return next
}

// Scheduler runs Run at every time its Schedule names until ctx ends. A run
// that fails is logged; the schedule goes on.
type Scheduler struct {
	Schedule *Schedule
	Run      func(ctx context.Context, opts Options) (Report, error)
	Log      *slog.Logger
	// now and after are the clock; tests replace them.
	now   func() time.Time
	after func(d time.Duration) <-chan time.Time
}

// Loop blocks until ctx ends, running updates on schedule; it returns
// ctx's error.
func (s *Scheduler) Loop(ctx context.Context) error {
	now, after := s.now, s.after
	if now == nil {
		now = time.Now
	}
	if after == nil {
		after = time.After
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		next := s.Schedule.Next(now())
		log.Info("auto-update scheduled", "at", next.Format(time.RFC3339), "schedule", s.Schedule.Spec)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-after(time.Until(next)):
		}
		if _, err := s.RunOnce(ctx); err != nil {
			log.Error("auto-update run", "err", err)
		}
	}
}

// Next is the scheduled time of the run after now.
func (s *Scheduler) Next(now time.Time) time.Time { return s.Schedule.Next(now) }

// RunOnce runs one update and sums it up for `berth status` ("2 updated, 1
// rolled back, 7 unchanged in 31s"). The error is set when the run could
// not happen or something failed or was rolled back, naming those units.
func (s *Scheduler) RunOnce(ctx context.Context) (summary string, err error) {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep, err := s.Run(ctx, Options{})
	if err != nil {
		return "", err
	}
	summary = rep.Summary()
	log.Info("auto-update run done", "summary", summary)
	var bad []string
	for _, r := range rep.Results {
		if r.Status == StatusFailed || r.Status == StatusRolledBack {
			bad = append(bad, r.Unit+" "+string(r.Status))
		}
	}
	if rep.PruneErr != nil {
		bad = append(bad, "pruning: "+rep.PruneErr.Error())
	}
	if len(bad) > 0 {
		return summary, fmt.Errorf("%s", strings.Join(bad, ", "))
	}
	return summary, nil
}

// Summary counts the results by status, in a fixed order, with the run's
// duration: "1 updated, 1 rolled back, 3 unchanged in 12.3s".
func (r Report) Summary() string {
	counts := map[Status]int{}
	for _, res := range r.Results {
		counts[res.Status]++
	}
	var parts []string
	for _, st := range []Status{StatusUpdated, StatusRolledBack, StatusFailed, StatusPending, StatusSkipped,
		StatusUnchanged, StatusPinned, StatusDisabled} {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(string(st), "-", " ")))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no services"}
	}
	took := ""
	if !r.Finished.IsZero() {
		took = " in " + r.Finished.Sub(r.Started).Round(100*time.Millisecond).String()
	}
	return strings.Join(parts, ", ") + took
}
