package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestResourcesOOMAndRestartLimit: a service over its mem_limit is
// OOM-killed by the kernel inside the unit's memory cgroup, as `systemctl
// status` / the cgroup's counters show it; `restart: on-failure:3` restarts a
// failing command 3 times, then leaves the unit failed.
func TestResourcesOOMAndRestartLimit(t *testing.T) {
	e := newBerthEnv(t)
	img := e.registry + "/busybox:latest"
	// tail keeps its whole input when there is no newline: 64 MiB in a
	// 16 MiB cgroup. The pipeline's subshell raises its oom_score_adj so the
	// kernel's kills (there may be several) pick it, never PID 1: sh (PID 1)
	// survives and reports tail's status, so the unit's cgroup and its
	// counters stay for the test to read.
	e.writeProject("res", fmt.Sprintf(`services:
  hog:
    image: %[1]s
    command: ["sh", "-c", "(echo 1000 >/proc/self/oom_score_adj; head -c 64m /dev/zero | tail); echo tail-status=$?; exec sleep 1000"]
    mem_limit: 16m
    memswap_limit: 16m
  flaky:
    image: %[1]s
    command: ["sh", "-c", "echo attempt; exit 1"]
    restart: on-failure:3
`, img))
	out, _ := e.berth("apply", "res") // flaky fails, as it must
	t.Logf("apply:\n%s", out)

	const hog, flaky = "berth-res-hog.service", "berth-res-flaky.service"
	e.eventually(30*time.Second, "the memory hog's tail to be killed", func() bool {
		return strings.Contains(e.sh("journalctl --no-pager -u "+hog), "tail-status=")
	})
	journal := e.sh("journalctl --no-pager -u " + hog)
	if !strings.Contains(journal, "tail-status=137") {
		t.Errorf("tail was not SIGKILLed (137):\n%s", journal)
	}
	if st := e.prop(hog, "ActiveState"); st != "active" {
		t.Errorf("hog is %s", st)
	}
	e.assertMemoryLimit(hog, 16<<20)
	if n := resOOMKills(e, hog); n < 1 {
		t.Errorf("the unit's memory cgroup counts %d OOM kills, want ≥ 1", n)
	}
	// What a user sees in systemctl status: the memory limit, and the
	// kernel's kill of the command that went over it.
	status := e.sh("systemctl status --no-pager -n 20 " + hog + " || true")
	t.Logf("systemctl status:\n%s", status)
	if !strings.Contains(status, "max: 16.0M") || !strings.Contains(status, "Killed") {
		t.Errorf("systemctl status shows neither the 16M limit nor the kill")
	}

	e.eventually(60*time.Second, "flaky to give up", func() bool {
		return e.prop(flaky, "ActiveState") == "failed"
	})
	time.Sleep(time.Second) // nothing more must happen
	attempts := strings.Count(e.sh("journalctl --no-pager -o cat -u "+flaky), "attempt")
	restarts := e.prop(flaky, "NRestarts")
	t.Logf("flaky: %d runs, NRestarts=%s, Result=%s", attempts, restarts, e.prop(flaky, "Result"))
	if attempts != 4 {
		t.Errorf("on-failure:3 ran the command %d times, want 4 (1 + 3 restarts)", attempts)
	}
	// systemd counts the restart its start limit refused as well (it
	// enqueues the restart job, then the limit fails it), so NRestarts is
	// docker's restart count plus that one.
	if restarts != "4" {
		t.Errorf("NRestarts=%s, want 4 (3 restarts + the one the start limit refused)", restarts)
	}
	if log := e.sh("journalctl --no-pager -u " + flaky); !strings.Contains(log, "Start request repeated too quickly") {
		t.Errorf("the journal does not say why flaky stopped restarting:\n%s", log)
	}
	if st := e.prop(flaky, "ActiveState"); st != "failed" {
		t.Errorf("flaky is %s, want failed", st)
	}

	e.mustBerth("down", "res")
}

// resOOMKills sums the OOM-kill counters in unit's memory cgroup tree: v1's
// memory.oom_control or v2's memory.events. On v1 the kill is counted in
// the victim's cgroup (the container's, below the unit's), not in the
// limited parent.
func resOOMKills(e *berthEnv, unit string) int {
	cg := e.prop(unit, "ControlGroup")
	out := e.sh(fmt.Sprintf("if [ -d /sys/fs/cgroup/memory%[1]s ]; then find /sys/fs/cgroup/memory%[1]s -name memory.oom_control -exec cat {} +; "+
		"else find /sys/fs/cgroup%[1]s -name memory.events -exec cat {} +; fi", cg))
	total, seen := 0, false
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
			n, _ := strconv.Atoi(f[1])
			total += n
			seen = true
		}
	}
	if !seen {
		e.t.Fatalf("no oom_kill counter in the memory cgroups of %s:\n%s", unit, out)
	}
	return total
}
