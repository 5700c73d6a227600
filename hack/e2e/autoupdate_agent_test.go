package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAutoUpdateAgentSchedule: with `schedule: "@every 2s"` in berth.yaml
// the agent updates a service by itself once its tag moves, and `berth
// status` shows the job's last result and next run.
func TestAutoUpdateAgentSchedule(t *testing.T) {
	reg := StartRegistry(t)
	wd := WorkDir(t)
	e := berthEnvIn(t, wd, reg.Addr())
	push := func(version string) string {
		t.Helper()
		img, err := BuildBusybox(WithCmd("sleep", "600"), WithFile("/etc/version", []byte(version+"\n")))
		if err != nil {
			t.Fatal(err)
		}
		return reg.Push(t, reg.Ref("sched:stable"), img)
	}
	v1 := push("v1")
	e.sb = BootSystemd(t, WithNetNS(reg.Addr()))
	agentWrite(t, filepath.Join(e.config, "berth.yaml"),
		"autoupdate:\n  schedule: '@every 2s'\n  randomized_delay: 0s\n  soak: 1s\n")
	e.writeProject("sched", fmt.Sprintf(`services:
  app:
    image: %s
    init: true
    labels:
      io.containers.autoupdate: registry
`, reg.Ref("sched:stable")))
	e.agentInstall()
	const app = "berth-sched-app.service"
	e.eventually(20*time.Second, "the agent to start app", func() bool { return e.agentActive(app) })
	if ps := e.autoupdatePs(); ps[app] != v1 {
		t.Fatalf("app runs %s; want %s", ps[app], v1)
	}

	v2 := push("v2")
	e.eventually(30*time.Second, "the agent's scheduled auto-update to run app on v2", func() bool {
		return e.autoupdatePs()[app] == v2 && e.agentActive(app)
	})
	// Runs every 2 s: the run after the update reports it unchanged.
	var status string
	e.eventually(10*time.Second, "berth status to show a later run", func() bool {
		status = e.mustBerth("status")
		return strings.Contains(status, "1 unchanged")
	})
	t.Logf("status:\n%s", status)
	if !strings.Contains(status, "auto-update: last run") || !strings.Contains(status, ", next ") {
		t.Errorf("status lacks the auto-update job's last run and next run:\n%s", status)
	}
	j := e.agentJournal()
	if !strings.Contains(j, "result=updated") || !strings.Contains(j, `job=auto-update result="1 updated`) {
		t.Errorf("the agent's journal lacks the update:\n%s", j)
	}
	e.sh("systemctl stop berth.service")
	e.mustBerth("down", "sched")
}
