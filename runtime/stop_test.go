package runtime

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStopMain: a process that exits on the stop signal stops at once; one
// that ignores it is SIGKILLed when the grace period ends, not before.
func TestStopMain(t *testing.T) {
	for _, c := range []struct {
		name     string
		script   string
		min, max time.Duration
	}{
		{"exits on SIGTERM", "trap 'exit 0' TERM; sleep 30 & wait", 0, 700 * time.Millisecond},
		{"ignores SIGTERM", "trap '' TERM; while :; do sleep 0.05; done", 800 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", c.script)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			time.Sleep(200 * time.Millisecond) // let sh install its trap
			t0 := time.Now()
			if err := StopMain(context.Background(), cmd.Process.Pid, unix.SIGTERM, time.Second); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(t0); took < c.min || took > c.max {
				t.Errorf("stopped after %v, want between %v and %v", took, c.min, c.max)
			}
		})
	}
}
