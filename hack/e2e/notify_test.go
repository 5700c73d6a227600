package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestNotifyReadyLate: a container that sends READY=1 itself, 2 s after it
// started, keeps its unit "activating" until then; its later STATUS=
// reaches systemd although the launcher is gone.
func TestNotifyReadyLate(t *testing.T) {
	e := newBerthEnv(t)
	img := e.healthPushSDHelper()
	e.writeProject("late", `services:
  app:
    image: `+img+`
    command: ["sdhelper", "notify", "2s"]
    x-berth:
      notify: true
`)
	const unit = "berth-late-app.service"
	applied := make(chan string, 1)
	go func() {
		out, err := e.berth("apply")
		if err != nil {
			out += "\nerror: " + err.Error()
		}
		applied <- out
	}()

	// The container runs (berth run is waiting for it) while the unit is
	// still activating.
	var sawActivating time.Time
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		st := e.prop(unit, "ActiveState")
		if st == "activating" && sawActivating.IsZero() {
			sawActivating = time.Now()
		}
		if st == "active" || st == "failed" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("apply:\n%s", <-applied)
	if st := e.prop(unit, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s\n%s", unit, st, e.sh("journalctl --no-pager -n 40 -u "+unit))
	}
	if sawActivating.IsZero() {
		t.Fatal("never saw the unit activating")
	}
	start := e.healthTimestamp(unit, "InactiveExitTimestampMonotonic")
	active := e.healthTimestamp(unit, "ActiveEnterTimestampMonotonic")
	t.Logf("activating for %v", active-start)
	if active-start < 2*time.Second {
		t.Errorf("unit became active %v after start, before the container's READY=1 (2 s)", active-start)
	}
	j := e.sh("journalctl --no-pager -o cat -u " + unit)
	if !strings.Contains(j, "NOTIFY_SOCKET=/run/notify/notify.sock") || !strings.Contains(j, `container is ready`) {
		t.Errorf("journal:\n%s", j)
	}
	e.assertContainerIsMainProcess(unit)

	// After the hand-over, the container's STATUS= goes to systemd.
	e.eventually(15*time.Second, "StatusText from the container", func() bool {
		return e.prop(unit, "StatusText") == "serving"
	})

	// A container that never sends READY=1 and exits fails the start.
	e.writeProject("late", `services:
  app:
    image: `+img+`
    command: ["sh", "-c", "sleep 1; exit 3"]
    x-berth:
      notify: true
`)
	out, err := e.berth("apply")
	if err == nil || !strings.Contains(out, "late/app") {
		t.Errorf("apply of a notify service that exits before READY=1: err=%v\n%s", err, out)
	}
	if j := e.sh("journalctl --no-pager -o cat -u " + unit); !strings.Contains(j, "exited before it sent READY=1") {
		t.Errorf("journal does not say why the start failed:\n%s", j)
	}
	e.mustBerth("down", "late")
}
