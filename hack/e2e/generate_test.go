package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGenerateSystemd: `berth generate systemd` writes unit files that a
// real systemd loads, starts, enables and stops without berth's agent or
// apply, with the container as the unit's main process.
func TestGenerateSystemd(t *testing.T) {
	e := newBerthEnv(t)
	example, err := os.ReadFile("../../examples/hello/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// busybox httpd as a container's PID 1 ignores SIGTERM (the kernel drops
	// signals without a handler for a namespace's init), so the example's web
	// would stop only by SIGKILL after the grace period and end "failed"
	// (result timeout), as with docker stop. A trap makes the stop clean,
	// which is what this test checks; PID 1 is still the container's.
	const webCmd = `command: ["busybox", "httpd", "-f", "-p", "8080"]`
	if !strings.Contains(string(example), webCmd) {
		t.Fatalf("examples/hello/compose.yaml no longer has web's %s", webCmd)
	}
	e.writeProject("hello", strings.Replace(string(example), webCmd,
		`command: ["sh", "-c", "trap 'exit 0' TERM; busybox httpd -f -p 8080 & wait"]`, 1))

	// Inside the sandbox /etc/systemd/system is a private tmpfs: the host's
	// unit dir is never written.
	if fs := e.sh("findmnt -n -o FSTYPE /etc/systemd/system"); fs != "tmpfs" {
		t.Fatalf("/etc/systemd/system in the sandbox is %q, not the private tmpfs", fs)
	}
	out := e.mustBerth("generate", "systemd", "hello", "--output", "/etc/systemd/system")
	t.Logf("generate:\n%s", out)
	for _, u := range []string{webUnit, tickerUnit} {
		if !strings.Contains(out, "/etc/systemd/system/"+u) {
			t.Errorf("generate output lacks %s", u)
		}
		if _, err := os.Stat(filepath.Join("/etc/systemd/system", u)); err == nil {
			t.Fatalf("%s was written to the host's /etc/systemd/system", u)
		}
	}
	t.Logf("%s:\n%s", webUnit, e.sh("cat /etc/systemd/system/"+webUnit))

	e.sh("systemctl daemon-reload")
	e.systemctl("start", webUnit)
	if st := e.prop(webUnit, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s", webUnit, st)
	}
	if fp := e.prop(webUnit, "FragmentPath"); fp != "/etc/systemd/system/"+webUnit {
		t.Errorf("%s: FragmentPath %q, want the generated file", webUnit, fp)
	}
	if tr := e.prop(webUnit, "Transient"); tr != "no" {
		t.Errorf("%s: Transient=%s, want a persistent unit", webUnit, tr)
	}
	e.assertContainerIsMainProcess(webUnit)

	// [Install] makes it enableable: the wants link appears in the unit dir.
	e.systemctl("enable", webUnit)
	if st := e.sh("systemctl is-enabled " + webUnit); st != "enabled" {
		t.Errorf("%s is-enabled: %s", webUnit, st)
	}
	if l := e.sh("readlink /etc/systemd/system/multi-user.target.wants/" + webUnit); l != "/etc/systemd/system/"+webUnit {
		t.Errorf("enable link points to %q", l)
	}

	e.systemctl("stop", webUnit)
	if st := e.prop(webUnit, "ActiveState"); st != "inactive" {
		t.Fatalf("%s after stop: %s (result %s)\n%s", webUnit, st, e.prop(webUnit, "Result"), e.sh("journalctl --no-pager -n 30 -u "+webUnit))
	}
	if m := e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"); m != "" {
		t.Errorf("mounts left under the run dir after stop:\n%s", m)
	}
	if f := e.runDirLeftovers(); f != "" {
		t.Errorf("left in the run dir after stop:\n%s", f)
	}
	e.systemctl("disable", webUnit)
}

// systemctl runs systemctl inside the sandbox; on failure it fails the test
// with the unit journal.
func (e *berthEnv) systemctl(verb, unit string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := e.sb.Command(ctx, "systemctl", verb, unit).CombinedOutput(); err != nil {
		e.t.Fatalf("systemctl %s %s: %v\n%s\n%s", verb, unit, err, out, e.sh("journalctl --no-pager -n 50 -u '"+unit+"' || true"))
	}
}
