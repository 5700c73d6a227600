package main

import (
	"strings"
	"testing"
	"time"
)

func TestAutoUpdateSchedulerFromSettings(t *testing.T) {
	a := &app{g: &globalOptions{ConfigDir: "/etc/berth"}, settings: &settings{}, log: (&globalOptions{}).logger()}
	s, err := a.autoUpdateScheduler()
	if err != nil || s.Schedule.Spec != "@daily" || s.Schedule.Delay != 15*time.Minute {
		t.Fatalf("default scheduler: %+v, %v", s, err)
	}
	a.settings.AutoUpdate.Schedule = "daily please"
	if _, err := a.autoUpdateScheduler(); err == nil || !strings.Contains(err.Error(), "/etc/berth/berth.yaml") {
		t.Errorf("bad schedule: %v; want the settings file named", err)
	}
}
