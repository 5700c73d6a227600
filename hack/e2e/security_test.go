package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// dockerCapEff is CapEff of a root process with docker's default set.
const securityDockerCapEff = "00000000a80425fb"

// TestSecurityReadOnlyCapsUlimits: read_only refuses writes to the root,
// cap_drop/cap_add show in CapEff, ulimits in /proc/PID/limits,
// no-new-privileges in NoNewPrivs; a ulimit above berth's own hard limit
// fails that service with a message naming both limits.
func TestSecurityReadOnlyCapsUlimits(t *testing.T) {
	e := newBerthEnv(t)
	img := e.registry + "/busybox:latest"
	e.writeProject("sec", fmt.Sprintf(`services:
  locked:
    image: %[1]s
    read_only: true
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE, KILL]
    security_opt: ["no-new-privileges:true"]
    ulimits:
      nproc: {soft: 77, hard: 88}
      nofile: 2048
    command: ["sh", "-c", "touch /x; echo exit=$?; exec sleep 1000"]
  plain:
    image: %[1]s
    command: ["sleep", "1000"]
  greedy:
    image: %[1]s
    ulimits:
      nofile: {soft: 1024, hard: 1099511627776}
    command: ["sleep", "1000"]
`, img))
	out, err := e.berth("apply", "sec")
	t.Logf("apply (greedy must fail): %v\n%s", err, out)
	if err == nil || !strings.Contains(out, "sec/greedy") {
		t.Errorf("apply did not report greedy's failure")
	}
	const locked, plain, greedy = "berth-sec-locked.service", "berth-sec-plain.service", "berth-sec-greedy.service"
	for _, u := range []string{locked, plain} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 30 -u "+u))
		}
	}
	e.eventually(10*time.Second, "the write attempt", func() bool {
		return strings.Contains(e.sh("journalctl --no-pager -o cat -u "+locked), "exit=")
	})
	if j := e.sh("journalctl --no-pager -o cat -u " + locked); !strings.Contains(j, "Read-only file system") || !strings.Contains(j, "exit=1") {
		t.Errorf("read_only root accepted a write:\n%s", j)
	}

	status := func(unit, field string) string {
		return e.sh(fmt.Sprintf("awk '$1 == \"%s:\" {print $2}' /proc/%d/status", field, e.mainPID(unit)))
	}
	// KILL (bit 5) and NET_BIND_SERVICE (bit 10).
	if got := status(locked, "CapEff"); got != "0000000000000420" {
		t.Errorf("locked CapEff %s, want 0000000000000420 (KILL, NET_BIND_SERVICE)", got)
	}
	if got := status(locked, "CapBnd"); got != "0000000000000420" {
		t.Errorf("locked CapBnd %s, want 0000000000000420", got)
	}
	if got := status(plain, "CapEff"); got != securityDockerCapEff {
		t.Errorf("plain CapEff %s, want docker's default %s", got, securityDockerCapEff)
	}
	if got := status(locked, "NoNewPrivs"); got != "1" {
		t.Errorf("locked NoNewPrivs %s", got)
	}
	if got := status(plain, "NoNewPrivs"); got != "0" {
		t.Errorf("plain NoNewPrivs %s", got)
	}
	limits := e.sh(fmt.Sprintf("cat /proc/%d/limits", e.mainPID(locked)))
	for _, want := range [][]string{{"Max processes", "77", "88"}, {"Max open files", "2048", "2048"}} {
		if !securityHasLimit(limits, want[0], want[1], want[2]) {
			t.Errorf("limits lack %s %s/%s:\n%s", want[0], want[1], want[2], limits)
		}
	}
	if !securityHasLimit(e.sh(fmt.Sprintf("cat /proc/%d/limits", e.mainPID(plain))), "Max open files", "1024", "1024") {
		t.Errorf("plain does not have the default nofile 1024")
	}

	if st := e.prop(greedy, "ActiveState"); st == "active" {
		t.Errorf("greedy runs with a nofile above berth's own hard limit")
	}
	if j := e.sh("journalctl --no-pager -o cat -u " + greedy); !strings.Contains(j, "hard limit 1099511627776 is above berth's own hard limit") {
		t.Errorf("greedy's journal does not name the limits:\n%s", j)
	}
	e.mustBerth("down", "sec")
}

// securityHasLimit finds a /proc/PID/limits row by its name and values.
func securityHasLimit(limits, name, soft, hard string) bool {
	for _, line := range strings.Split(limits, "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			return len(f) >= 2 && f[0] == soft && f[1] == hard
		}
	}
	return false
}
