package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// rollbackProject is a non-root service with its image's HEALTHCHECK
// (healthy once /tmp/ready exists), short timings so a failure shows in
// seconds: COMMAND runs before it sleeps, EXTRA adds keys (restart:
// always unless it names a policy).
const rollbackProject = `services:
  app:
    image: HC
    stop_grace_period: 1s
    command: ["sh", "-c", "trap 'exit 0' TERM; COMMAND; while true; do sleep 1; done"]
    healthcheck:
      interval: 1s
      timeout: 1s
      start_period: 1s
      start_interval: 300ms
      retries: 2
    x-berth:
      soak: 1s
      unit: {TimeoutStartSec: 15s}
EXTRA`

const rollbackUnit = "berth-rb-app.service"

func (e *berthEnv) rollbackWrite(hc, command, extra string) {
	e.t.Helper()
	if !strings.Contains(extra, "restart:") {
		extra += "    restart: always\n"
	}
	e.writeProject("rb", strings.NewReplacer("HC", hc, "COMMAND", command, "EXTRA", extra).Replace(rollbackProject))
}

// rollbackHash is the spec hash the unit runs.
func (e *berthEnv) rollbackHash() string {
	for _, f := range strings.Fields(e.prop(rollbackUnit, "Environment")) {
		if v, ok := strings.CutPrefix(f, "BERTH_SPEC_HASH="); ok {
			return v
		}
	}
	return ""
}

// rollbackServing checks the v1 container runs and answers: the unit is
// active on spec, its health check passes and exec reads what it wrote.
func (e *berthEnv) rollbackServing(spec string) {
	e.t.Helper()
	if st := e.prop(rollbackUnit, "ActiveState"); st != "active" {
		e.t.Fatalf("%s is %s after the rollback\n%s", rollbackUnit, st, e.sh("journalctl --no-pager -o cat -n 30 -u "+rollbackUnit))
	}
	if got := e.rollbackHash(); got != spec {
		e.t.Fatalf("%s runs spec %s, want the previous %s", rollbackUnit, got, spec)
	}
	if out, err := e.berth("exec", "rb/app", "cat", "/tmp/version"); err != nil || strings.TrimSpace(out) != "v1" {
		e.t.Fatalf("exec in the restored container: %v: %q", err, out)
	}
	e.eventually(10*time.Second, "the restored container's check to pass", func() bool { return e.healthPs()["app"].Health == "healthy" })
}

// TestApplyRollsBack: a recreate whose new container fails to start (a
// typo'd device), exits 1 (restarting), or never passes its health check
// puts the previous container back; apply says "rolled back" and fails,
// plan keeps the change pending, status lists it. --no-rollback leaves the
// failed container. The agent rolls back too, holds the change instead of
// recreating the failed spec on every re-list, and after a reboot starts
// the restored spec again.
func TestApplyRollsBack(t *testing.T) {
	e := newBerthEnv(t)
	hc := e.pushImage("hc:latest", healthImage("test -f /tmp/ready")...)
	const good = "echo v1 > /tmp/version; touch /tmp/ready"
	e.rollbackWrite(hc, good, "")
	e.mustBerth("apply", "rb")
	e.eventually(15*time.Second, "v1 healthy", func() bool { return e.healthPs()["app"].Health == "healthy" })
	v1 := e.rollbackHash()

	for _, c := range []struct{ name, command, extra, why string }{
		{"device", good, "    devices: [\"/dev/nulll:/dev/null2\"]\n", "/dev/nulll"},
		{"exit1", "echo v2 > /tmp/version; exit 1", "", ""},
		{"unhealthy", "echo v2 > /tmp/version", "", "health"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			e.rollbackWrite(hc, c.command, c.extra)
			t0 := time.Now()
			out, err := e.berth("apply", "rb")
			took := time.Since(t0)
			t.Logf("apply (%s):\n%s", took.Round(10*time.Millisecond), out)
			if err == nil {
				t.Fatalf("apply of a failing change exited 0")
			}
			if !strings.Contains(out, "rb/app: rolled back ("+rollbackUnit+") to spec "+v1) {
				t.Errorf("apply does not say it rolled back to %s", v1)
			}
			if !strings.Contains(out, c.why) {
				t.Errorf("apply does not say why (%q)", c.why)
			}
			e.rollbackServing(v1)
			if took > 40*time.Second {
				t.Errorf("apply took %s to roll back", took)
			}
			plan := e.mustBerth("plan", "rb")
			if !strings.Contains(plan, "~ recreate rb/app ("+rollbackUnit+")") || !strings.Contains(plan, "last attempt rolled back at") {
				t.Errorf("plan does not show the change pending after its rollback:\n%s", plan)
			}
			status, _ := e.berth("status")
			if !strings.Contains(status, "rolled back:\n  rb/app ("+rollbackUnit+")") {
				t.Errorf("status does not list the rollback:\n%s", status)
			}
		})
	}
	e.t = t

	// --no-rollback leaves the failed container as the files ask.
	e.rollbackWrite(hc, "exit 1", "    restart: \"no\"\n")
	out, err := e.berth("apply", "--no-rollback", "rb")
	if err == nil || !strings.Contains(out, "rollback disabled") {
		t.Errorf("apply --no-rollback: %v\n%s", err, out)
	}
	if st := e.prop(rollbackUnit, "ActiveState"); st == "active" {
		t.Errorf("--no-rollback: %s is %s", rollbackUnit, st)
	}
	e.rollbackWrite(hc, good, "")
	e.mustBerth("apply", "rb")
	e.eventually(15*time.Second, "v1 healthy again", func() bool { return e.healthPs()["app"].Health == "healthy" })
	if status, _ := e.berth("status"); !strings.Contains(status, "rolled back:    none") {
		t.Errorf("a successful apply did not clear the rollback:\n%s", status)
	}

	// The agent rolls a bad file back once, then holds it.
	e.agentInstall()
	e.rollbackWrite(hc, "exit 1", "")
	var rolled struct {
		RolledBack []struct {
			Failed string `json:"failed_spec"`
		} `json:"rolled_back"`
	}
	e.eventually(30*time.Second, "the agent to roll back", func() bool {
		js, _ := e.berthStdout("status", "--format", "json")
		return json.Unmarshal([]byte(js), &rolled) == nil && len(rolled.RolledBack) == 1
	})
	pid := e.mainPID(rollbackUnit)
	time.Sleep(3*agentInterval + time.Second)
	e.rollbackServing(v1)
	if got := e.mainPID(rollbackUnit); got != pid {
		t.Errorf("the agent recreated the unit again (main PID %d → %d)", pid, got)
	}
	if n := strings.Count(e.agentJournal(), "msg=\"rolled back\""); n != 1 {
		t.Errorf("the agent rolled back %d times, want once:\n%s", n, e.agentJournal())
	}
	// After a reboot the agent brings back the container that ran, not
	// the failed spec the file still asks for.
	e.agentRebootAndCheck(rollbackUnit)
	e.rollbackServing(v1)
}
