package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRunOneOff: berth run starts a one-off container of a service, as
// docker compose run does: its dependency first unless --no-deps, -e in
// the command's environment, the command's output and exit status back,
// an address of its own, and nothing left afterwards. Long-running
// services are not touched: neither the target's own unit (stopped here)
// nor a running one's container.
func TestRunOneOff(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("mig", fmt.Sprintf(`services:
  cache:
    image: %[1]s/busybox:latest
    command: ["sh", "-c", "exec sleep 1000"]
    stop_grace_period: 1s
  tool:
    image: %[1]s/busybox:latest
    command: ["sh", "-c", "exec sleep 1000"]
    stop_grace_period: 1s
    environment:
      GREETING: from-compose
    depends_on: [cache]
  app:
    image: %[1]s/busybox:latest
    command: ["sh", "-c", "exec sleep 1000"]
`, e.registry))
	const cache, tool, app = "berth-mig-cache.service", "berth-mig-tool.service", "berth-mig-app.service"
	e.mustBerth("apply", "mig")
	e.mustBerth("stop", "mig/tool")
	e.mustBerth("stop", "mig/cache")
	for _, u := range []string{cache, tool} {
		if s := e.prop(u, "ActiveState"); s == "active" {
			t.Fatalf("%s is %s after berth stop", u, s)
		}
	}
	appPID := e.mainPID(app)
	if appPID == 0 {
		t.Fatal("app is not running")
	}
	inet := regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)`)
	appIP := inet.FindStringSubmatch(e.mustBerth("exec", "mig/app", "ip", "-4", "-o", "addr", "show", "eth0"))
	if appIP == nil {
		t.Fatal("app has no address on eth0")
	}

	migrate := "echo migrated $GREETING $EXTRA; ip -4 -o addr show eth0; exit 3"
	noLeftovers := func(when string) {
		t.Helper()
		if u := e.sh("systemctl list-units --all --plain --no-legend 'berth-mig-*-run-*'"); u != "" {
			t.Errorf("%s: one-off units are left:\n%s", when, u)
		}
		if f := e.sh(fmt.Sprintf("find %s /run/berth -name '*-run-*'", e.state)); f != "" {
			t.Errorf("%s: one-off files are left:\n%s", when, f)
		}
		if r := e.sh(fmt.Sprintf("grep -rl -- -run- %s/networks /run/berth/cni || true", e.state)); r != "" {
			t.Errorf("%s: one-off address reservations are left:\n%s", when, r)
		}
	}

	out, err := e.berth("run", "--no-deps", "-e", "EXTRA=from-run", "mig/tool", "sh", "-c", migrate)
	if got := exitStatus(err); got != 3 {
		t.Fatalf("run --no-deps: exit %d, want 3\n%s\n%s", got, out, e.sh("journalctl --no-pager -n 40 || true"))
	}
	if !strings.Contains(out, "migrated from-compose from-run") {
		t.Errorf("run --no-deps: output lacks the command's output with its environment:\n%s", out)
	}
	if s := e.prop(cache, "ActiveState"); s == "active" {
		t.Errorf("run --no-deps started the dependency")
	}
	if ip := inet.FindStringSubmatch(out); ip == nil || ip[1] == appIP[1] {
		t.Errorf("the one-off has no address of its own (app has %s):\n%s", appIP[1], out)
	}
	noLeftovers("after run --no-deps")

	out, err = e.berth("run", "mig/tool", "sh", "-c", migrate)
	if got := exitStatus(err); got != 3 {
		t.Fatalf("run: exit %d, want 3\n%s", got, out)
	}
	if !strings.Contains(out, "migrated from-compose") {
		t.Errorf("run: output lacks the command's output:\n%s", out)
	}
	if s := e.prop(cache, "ActiveState"); s != "active" {
		t.Errorf("run did not start the dependency: cache is %s\n%s", s, out)
	}
	if s := e.prop(tool, "ActiveState"); s == "active" {
		t.Errorf("run started the long-running tool service itself")
	}
	noLeftovers("after run")

	// A one-off of a running service: exit 0, and its container untouched.
	// -u, -w and --entrypoint override the spec's.
	out, err = e.berth("run", "-u", "1234", "-w", "/tmp", "--entrypoint", "/bin/sh -c", "app", "echo beside-app $(id -u) $(pwd)")
	if err != nil || !strings.Contains(out, "beside-app 1234 /tmp") {
		t.Errorf("run -u 1234 -w /tmp --entrypoint app: %v\n%s", err, out)
	}
	noLeftovers("after run app")

	if got := e.mainPID(app); got != appPID {
		t.Errorf("the long-running app's main PID changed from %d to %d", appPID, got)
	}

	// -d prints the unit and returns; the unit goes when its command ends.
	unit := strings.TrimSpace(e.mustBerth("run", "-d", "mig/app", "sh", "-c", "sleep 4; ip -4 -o addr show eth0; echo detached"))
	if !regexp.MustCompile(`^berth-mig-app-run-[0-9a-f]{6}\.service$`).MatchString(unit) {
		t.Fatalf("run -d printed %q, want the unit's name", unit)
	}
	if u := e.sh("systemctl list-units --all --plain --no-legend 'berth-mig-*-run-*'"); !strings.Contains(u, unit) {
		t.Errorf("the detached one-off %s is not listed while it runs:\n%s", unit, u)
	}
	// A pass while it runs (its network GC) leaves its address alone.
	e.mustBerth("apply", "mig")
	e.eventually(30*time.Second, unit+" to go away", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-mig-*-run-*'") == ""
	})
	if j := e.sh("journalctl --no-pager -u " + unit); !strings.Contains(j, "detached") || !inet.MatchString(j) {
		t.Errorf("run -d: the journal lacks the output, or the one-off lost its address to a pass:\n%s", j)
	}
	// Its spec went with its unit; the next pass's GC releases its address.
	e.mustBerth("apply", "mig")
	noLeftovers("after run -d and a pass")
}
