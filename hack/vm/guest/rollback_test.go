//go:build vmguest

package guest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// testRollback: a change whose container exits at once is rolled back on
// a cgroup v2 host: apply fails saying so, the previous container (non-root,
// healthy) serves again, and plan keeps the change pending.
func testRollback(t *testing.T) {
	const u = "berth-rb-app.service"
	write := func(cmd string) {
		writeFile(t, configDir+"/rb/compose.yaml", fmt.Sprintf(`services:
  app:
    image: %s/vm/busybox:latest
    user: "1000:1000"
    command: ["sh", "-c", %q]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/version"]
      interval: 1s
      retries: 30
    x-berth:
      soak: 1s
      unit:
        TimeoutStartSec: 40s
`, registry, cmd), 0o644)
	}
	write("echo v1 > /tmp/version; exec sleep 86400")
	run(t, "berth", "apply", "rb")
	waitActive(t, time.Minute, u)

	write("echo v2; exit 1")
	out, err := runErr("berth", "apply", "rb")
	if err == nil || !strings.Contains(out, "rolled back") {
		t.Fatalf("apply of a failing change: %v, want a rollback:\n%s", err, out)
	}
	waitActive(t, time.Minute, u)
	if v := strings.TrimSpace(run(t, "berth", "exec", "rb/app", "cat", "/tmp/version")); v != "v1" {
		t.Errorf("after the rollback the container says %q, want v1", v)
	}
	if plan := run(t, "berth", "plan", "rb"); !strings.Contains(plan, "~ recreate rb/app") || !strings.Contains(plan, "rolled back") {
		t.Errorf("plan after the rollback does not keep the change pending:\n%s", plan)
	}
	// Leave nothing for the agent step.
	run(t, "berth", "down", "rb")
	if err := os.RemoveAll(configDir + "/rb"); err != nil {
		t.Fatal(err)
	}
}
