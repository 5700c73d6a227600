package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// failureReason is what berth-launcher says when the host lacks nft: the
// sandbox's units get a PATH without /usr/sbin, as on a Debian host
// without the nftables package.
const failureReason = "nft not found in $PATH: install Debian package nftables"

// TestFailureSaysWhy: when a container cannot start, berth apply, start,
// restart and status print the launcher's own error from the unit's
// journal, not systemd's "job failed". The units of the bundled hello
// example start with a PATH that has neither nft nor iptables; then a
// service's image is missing from the registry.
func TestFailureSaysWhy(t *testing.T) {
	requireRoot(t)
	e := newBerthEnv(t)
	hello, err := os.ReadFile("../../examples/hello/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e.writeProject("hello", string(hello))
	e.sh("systemctl set-environment PATH=/usr/bin:/bin")

	// apply: one line per service, each with the launcher's reason.
	out, err := e.berth("apply")
	t.Logf("berth apply without nft:\n%s", out)
	if err == nil {
		t.Errorf("berth apply succeeded without nft")
	}
	for _, svc := range []string{"web", "ticker"} {
		line := lineWith(out, "hello/"+svc+": create failed: ")
		if !strings.Contains(line, "starting unit berth-hello-"+svc+".service: job failed: berth-launcher: ") || !strings.Contains(line, failureReason) {
			t.Errorf("apply's line for hello/%s does not say why: %q", svc, line)
		}
	}
	if strings.Contains(out, "systemd job failed") {
		t.Errorf("apply says only 'systemd job failed'")
	}

	// status: the failing units and why, though no agent ever ran.
	out, _ = e.berth("status")
	t.Logf("berth status:\n%s", out)
	for _, want := range []string{"failing units:", "hello/web (" + webUnit + "): failed/failed, result exit-code", "hello/ticker (" + tickerUnit + "): ", failureReason} {
		if !strings.Contains(out, want) {
			t.Errorf("berth status lacks %q", want)
		}
	}
	if _, err := e.berth("status", "--check"); err == nil {
		t.Errorf("status --check succeeded with failing units")
	}

	// start (a failed unit is recreated from the config): the same reason.
	out, err = e.berth("start", "hello/web")
	t.Logf("berth start hello/web without nft:\n%s", out)
	if err == nil || !strings.Contains(out, "start hello/web: recreate hello/web: starting unit "+webUnit+": job failed: berth-launcher: ") || !strings.Contains(out, failureReason) {
		t.Errorf("berth start does not say why it failed (err %v)", err)
	}

	// With nft back, everything starts and nothing is failing.
	e.sh("systemctl unset-environment PATH")
	e.eventually(30*time.Second, "ticker to start by itself (Restart=always)", func() bool {
		return e.prop(tickerUnit, "ActiveState") == "active"
	})
	e.mustBerth("apply")
	// (status exits 1: no agent ever ran here.)
	if out, _ := e.berth("status", "--format", "json"); !strings.Contains(out, `"failing_units": []`) {
		t.Errorf("failing units after the fix:\n%s", out)
	}

	// restart (a restart job through systemd, as auto-update makes): the
	// same reason.
	e.sh("systemctl set-environment PATH=/usr/bin:/bin")
	out, err = e.berth("restart", "hello/ticker")
	t.Logf("berth restart hello/ticker without nft:\n%s", out)
	if err == nil || !strings.Contains(out, "restart hello/ticker: restarting unit "+tickerUnit+": job failed: berth-launcher: ") || !strings.Contains(out, failureReason) {
		t.Errorf("berth restart does not say why it failed (err %v)", err)
	}
	e.sh("systemctl unset-environment PATH")

	// An image the registry does not have: the launcher's pull error.
	e.writeProject("ghost", "services:\n  app:\n    image: "+e.registry+"/busybox:missing\n")
	out, err = e.berth("apply", "ghost")
	t.Logf("berth apply of a missing image:\n%s", out)
	line := lineWith(out, "ghost/app: create failed: ")
	if err == nil || !strings.Contains(line, "job failed: berth-launcher: pulling "+e.registry+"/busybox:missing") || !strings.Contains(line, "manifest unknown") {
		t.Errorf("apply's line for a missing image does not say why: %q", line)
	}
}

// lineWith returns the first line of out containing s, "" if none.
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
