package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/cmd/internal/settings"
)

func TestAutoUpdateSchedulerFromSettings(t *testing.T) {
	a := &app{g: &globalOptions{ConfigDir: "/etc/berth"}, settings: &settings.Settings{}, log: (&globalOptions{}).logger()}
	s, err := a.autoUpdateScheduler()
	if err != nil || s.Schedule.Spec != "@daily" || s.Schedule.Delay != 15*time.Minute {
		t.Fatalf("default scheduler: %+v, %v", s, err)
	}
	a.settings.AutoUpdate.Schedule = "daily please"
	if _, err := a.autoUpdateScheduler(); err == nil || !strings.Contains(err.Error(), "/etc/berth/berth.yaml") {
		t.Errorf("bad schedule: %v; want the settings file named", err)
	}
}

func TestAgentJobsFromSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) *app {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := loadSettings(dir)
		if err != nil {
			t.Fatal(err)
		}
		return &app{g: &globalOptions{ConfigDir: dir}, settings: st, log: (&globalOptions{}).logger()}
	}
	now := time.Date(2026, 3, 1, 14, 0, 0, 0, time.Local)

	jobs := agentJobs(write("autoupdate:\n  schedule: '@every 2s'\n  randomized_delay: 0s\n"))
	if len(jobs) != 1 || jobs[0].Name != "auto-update" {
		t.Fatalf("jobs %+v", jobs)
	}
	if got := jobs[0].Next(now); !got.Equal(now.Add(2 * time.Second)) {
		t.Errorf("@every 2s without delay: next %s", got)
	}
	s, err := write("autoupdate:\n  randomized_delay: 5m\n").autoUpdateScheduler()
	if err != nil || s.Schedule.Delay != 5*time.Minute || s.Schedule.Spec != "@daily" {
		t.Errorf("randomized_delay 5m: %+v, %v", s, err)
	}
	if jobs := agentJobs(write("autoupdate:\n  schedule: 'off'\n")); len(jobs) != 0 {
		t.Errorf("schedule off: %d jobs", len(jobs))
	}
	// A bad schedule is one failed run naming the file, then nothing.
	jobs = agentJobs(write("autoupdate:\n  schedule: nightly\n"))
	if len(jobs) != 1 || !jobs[0].Next(now).Equal(now) {
		t.Fatalf("bad schedule jobs %+v", jobs)
	}
	if _, err := jobs[0].Run(t.Context()); err == nil || !strings.Contains(err.Error(), "berth.yaml: autoupdate.schedule") {
		t.Errorf("bad schedule run: %v", err)
	}
	if !jobs[0].Next(now).IsZero() {
		t.Errorf("bad schedule runs again")
	}
}
