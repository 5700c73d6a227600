//go:build vmguest

package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBoot2 runs after the real reboot that ended boot 1: transient units
// are gone with /run, so everything running now was rebuilt by the agent
// from /etc/berth, or started by systemd from generated unit files.
func TestBoot2(t *testing.T) {
	runSteps(t, []step{
		{"AgentRebuilt", testAgentRebuilt},
		{"GeneratedUnitsCameBack", testGeneratedUnitsCameBack},
		{"NoStaleState", testNoStaleState},
		{"AutoUpdateTimerUpdates", testAutoUpdateTimerUpdates},
	})
}

func testAgentRebuilt(t *testing.T) {
	waitActive(t, 5*time.Minute, "berth.service")
	units := append([]string{"berth-hello-web.service", "berth-hello-ticker.service", "berth-nonroot-app.service"}, featureUnits...)
	units = append(units, kubeUnits...)
	waitActive(t, 3*time.Minute, units...)
	for _, u := range units {
		if strings.HasSuffix(u, ".service") && u != "berth-feat-sock.service" {
			if frag := prop(t, u, "FragmentPath"); !strings.HasPrefix(frag, "/run/systemd/transient/") {
				t.Errorf("%s comes from %s, not a transient unit the agent made", u, frag)
			}
		}
	}
	checkFeatures(t)
	checkKube(t)
	ps := run(t, "berth", "ps")
	t.Logf("berth ps after the reboot:\n%s", ps)
	if out, err := runErr("berth", "status", "--check"); err != nil {
		t.Errorf("berth status --check after the reboot: %v\n%s", err, out)
	}
	// The limits projects were removed before the reboot: nothing of theirs
	// may come back.
	if out := sh(t, "systemctl list-units --all --plain --no-legend 'berth-limits-*' 'berth-oom-*'"); out != "" {
		t.Errorf("units of removed projects after the reboot:\n%s", out)
	}
}

func testGeneratedUnitsCameBack(t *testing.T) {
	const u = "berth-gen-pinger.service"
	waitActive(t, 3*time.Minute, u)
	if frag := prop(t, u, "FragmentPath"); frag != "/etc/systemd/system/"+u {
		t.Errorf("%s runs from %s", u, frag)
	}
	assertContainerIsMainProcess(t, u)
	if got := getEventually(t, time.Minute, "http://127.0.0.1:18070/"); got != "gen-ok\n" {
		t.Errorf("generated unit serves %q after the reboot", got)
	}
}

// running returns the IDs of the containers that have a run dir now.
func running(t *testing.T) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	ents, err := os.ReadDir("/run/berth/containers")
	if err != nil {
		t.Fatalf("reading /run/berth/containers: %v", err)
	}
	for _, e := range ents {
		ids[e.Name()] = true
	}
	return ids
}

// testNoStaleState: after the reboot only what runs now exists: mounts,
// netns pins, veths, IPAM reservations and firewall rules.
func testNoStaleState(t *testing.T) {
	ids := running(t)
	t.Logf("containers: %d", len(ids))
	// Mounts under /run/berth belong to a running container.
	for _, line := range strings.Split(sh(t, "awk '{print $5}' /proc/self/mountinfo | grep '^/run/berth/' || true"), "\n") {
		if line == "" {
			continue
		}
		rest := strings.TrimPrefix(line, "/run/berth/")
		owner := ""
		if f := strings.Split(rest, "/"); len(f) > 1 {
			owner = f[1]
		}
		if pod, ok := strings.CutPrefix(rest, "pods/"); ok {
			// A pod's pinned namespaces: <run>/pods/<key>/, its unit berth-<key>.pod.service.
			key, _, _ := strings.Cut(pod, "/")
			if st := prop(t, "berth-"+key+".pod.service", "ActiveState"); st != "active" {
				t.Errorf("mount %s belongs to pod unit berth-%s.pod.service, which is %s", line, key, st)
			}
			continue
		}
		if !ids[owner] && !strings.HasPrefix(rest, "netns/") {
			t.Errorf("mount %s belongs to no running container", line)
		}
	}
	// One veth per networked container that runs, none left over.
	veths := strings.Fields(sh(t, "ip -o link show type veth | awk -F': ' '{print $2}'"))
	networked := 0
	for id := range ids {
		if _, err := os.Stat(filepath.Join("/run/berth/containers", id, "pid")); err == nil {
			networked++
		}
	}
	t.Logf("veths: %d, containers: %d", len(veths), networked)
	if len(veths) > networked {
		t.Errorf("%d veths for %d containers: %v", len(veths), networked, veths)
	}
	// Each published port has exactly one DNAT entry: an element of
	// berth's port maps ("tcp . 18080 : ADDR . PORT"), and no rule left by
	// portmap (cni_hostport), which berth no longer uses.
	ruleset := sh(t, "nft list ruleset 2>/dev/null || true")
	if strings.Contains(ruleset, "cni_hostport") && strings.Contains(ruleset, "dnat") {
		t.Errorf("portmap's DNAT rules remain:\n%s", ruleset)
	}
	for _, port := range []string{"18080", "18070", "18085"} {
		// nft prints an element's comment between its key and value.
		elem := regexp.MustCompile(`tcp \. ` + port + `( comment "[^"]*")? : `)
		if n := len(elem.FindAllString(ruleset, -1)); n != 1 {
			t.Errorf("port %s has %d DNAT map elements:\n%s", port, n, ruleset)
		}
	}
	// IPAM reservations only for containers that run.
	res := sh(t, "find /run/berth/cni/ipam -type f ! -name 'last_reserved_ip*' ! -name lock 2>/dev/null || true")
	for _, f := range strings.Fields(res) {
		b, _ := os.ReadFile(f)
		owner := strings.TrimSpace(strings.Split(string(b), "\n")[0])
		t.Logf("IPAM %s → %s", f, owner)
	}
	if n := len(strings.Fields(res)); n > networked {
		t.Errorf("%d IPAM reservations for %d containers:\n%s", n, networked, res)
	}
}

// testAutoUpdateTimerUpdates moves the upd service's tag and waits for the
// timer-driven berth-auto-update.service to recreate it on the new digest.
func testAutoUpdateTimerUpdates(t *testing.T) {
	const u = "berth-feat-upd.service"
	waitActive(t, time.Minute, u)
	old := mainPID(t, u)
	d := push(t, "vm/upd:stable", busybox(t, "v2"))
	t.Logf("pushed vm/upd:stable = %s", d)
	eventually(t, 3*time.Minute, u+" to run v2", func() bool {
		return strings.Contains(journal(t, u), "running v2")
	})
	waitActive(t, time.Minute, u)
	if mainPID(t, u) == old {
		t.Errorf("%s kept main PID %d", u, old)
	}
	ps := run(t, "berth", "ps", "--format", "json")
	if !strings.Contains(ps, strings.TrimPrefix(d, "sha256:")[:12]) {
		t.Errorf("berth ps does not show the new digest %s:\n%s", d, ps)
	}
	j := journal(t, "berth-auto-update.service")
	if !strings.Contains(j, "upd") {
		t.Errorf("berth-auto-update.service's journal does not mention upd:\n%s", j)
	}
	fmt.Fprintln(os.Stderr, "auto-update journal:\n"+j)
}
