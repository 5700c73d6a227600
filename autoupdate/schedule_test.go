package autoupdate

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseScheduleDefaultIsDailyWithDelay(t *testing.T) {
	s, err := ParseSchedule("", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.jitter = func(n time.Duration) time.Duration { return n / 3 }
	now := time.Date(2026, 3, 1, 14, 0, 0, 0, time.Local)
	want := time.Date(2026, 3, 2, 0, 5, 0, 0, time.Local) // midnight + 15m/3
	if got := s.Next(now); !got.Equal(want) {
		t.Errorf("Next(%s) = %s, want %s", now, got, want)
	}
	if s.Spec != "@daily" || s.Delay != 15*time.Minute {
		t.Errorf("default schedule %+v", s)
	}
}

func TestParseScheduleCronAndErrors(t *testing.T) {
	s, err := ParseSchedule("30 3 * * 1", -1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 14, 0, 0, 0, time.Local) // a Sunday
	if got, want := s.Next(now), time.Date(2026, 3, 2, 3, 30, 0, 0, time.Local); !got.Equal(want) {
		t.Errorf("Next = %s, want %s", got, want)
	}
	if _, err := ParseSchedule("every day", 0); err == nil || !strings.Contains(err.Error(), "@daily") {
		t.Errorf("bad spec: %v; want an error with examples", err)
	}
}

func TestSchedulerRunsOnEachTick(t *testing.T) {
	s, err := ParseSchedule("@every 1h", -1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	runs := 0
	sch := &Scheduler{
		Schedule: s,
		Run: func(ctx context.Context, o Options) (Report, error) {
			runs++
			if runs == 2 {
				cancel()
			}
			return Report{}, nil
		},
		after: func(time.Duration) <-chan time.Time { return ticks },
	}
	done := make(chan error)
	go func() { done <- sch.Loop(ctx) }()
	ticks <- time.Now()
	ticks <- time.Now()
	if err := <-done; err != context.Canceled || runs != 2 {
		t.Errorf("Loop = %v after %d runs; want canceled after 2", err, runs)
	}
}

// The agent's job: Next follows the schedule on a fixed clock, RunOnce sums
// the run up and fails when something was rolled back.
func TestSchedulerJob(t *testing.T) {
	s, err := ParseSchedule("@every 2s", 0)
	if err != nil {
		t.Fatal(err)
	}
	s.jitter = func(n time.Duration) time.Duration { return time.Second }
	now := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)
	rep := Report{Started: now, Finished: now.Add(1500 * time.Millisecond), Results: []Result{
		{Unit: "a", Status: StatusUpdated}, {Unit: "b", Status: StatusUnchanged}, {Unit: "c", Status: StatusUnchanged},
	}}
	sch := &Scheduler{Schedule: s, Run: func(ctx context.Context, o Options) (Report, error) { return rep, nil }}
	if got, want := sch.Next(now), now.Add(3*time.Second); !got.Equal(want) {
		t.Errorf("Next = %s, want %s (2s + 1s delay)", got, want)
	}
	sum, err := sch.RunOnce(context.Background())
	if err != nil || sum != "1 updated, 2 unchanged in 1.5s" {
		t.Errorf("RunOnce = %q, %v", sum, err)
	}
	rep.Results[1].Status = StatusRolledBack
	sum, err = sch.RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "b rolled-back") || !strings.Contains(sum, "1 rolled back") {
		t.Errorf("RunOnce with a rollback = %q, %v", sum, err)
	}
}
