//go:build vmguest

// Package guest is the VM suite: tests that run inside the QEMU guest that
// hack/vm boots (pure cgroup v2, systemd as the real PID 1, a fresh Debian
// with only the Makefile's packages). TestBoot1 runs at the first boot and
// ends in a real reboot; TestBoot2 runs after it. Subtests run in order
// and share the machine; each names what a user would see fail.
package guest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Paths and addresses shared by both boots.
const (
	repo      = "/root/berth"
	guestDir  = "/usr/local/lib/berth-vm"
	stateDir  = "/var/lib/berth-vm"
	configDir = "/etc/berth"
	// registry is the suite's own registry, a unit file that comes back
	// after the reboot (the example's registry is transient).
	registry = "127.0.0.1:5060"
	// genConfig holds the project whose units `generate systemd` writes:
	// no agent manages it.
	genConfig = "/root/gen"
)

// step is one subtest of a boot; steps run in order and share the VM.
type step struct {
	name string
	fn   func(*testing.T)
}

func runSteps(t *testing.T, steps []step) {
	for _, s := range steps {
		t.Run(s.name, s.fn)
	}
}

// run runs a command and returns its combined output; it fails the test
// when the command fails.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sh(t testing.TB, script string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "sh", "-c", script))
}

// prop reads one unit property.
func prop(t testing.TB, unit, p string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "systemctl", "show", "-p", p, "--value", unit))
}

// eventually polls cond every 500 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitActive waits until every unit is active, and on timeout shows each
// unit's status and journal.
func waitActive(t testing.TB, timeout time.Duration, unitNames ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for _, u := range unitNames {
		for prop(t, u, "ActiveState") != "active" {
			if time.Now().After(deadline) {
				st, _ := runErr("systemctl", "status", "--no-pager", "-n", "30", u)
				t.Fatalf("%s is %s after %s:\n%s", u, prop(t, u, "ActiveState"), timeout, st)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// journal returns a unit's journal of this boot.
func journal(t testing.TB, unit string) string {
	t.Helper()
	out, _ := runErr("journalctl", "-b", "-u", unit, "--no-pager", "-o", "cat")
	return out
}

// get fetches a URL on loopback with a short timeout.
func get(url string) (string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// getEventually fetches url until it answers 200 or timeout passes.
func getEventually(t testing.TB, timeout time.Duration, url string) string {
	t.Helper()
	var body string
	var err error
	deadline := time.Now().Add(timeout)
	for {
		if body, err = get(url); err == nil {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v after %s", url, err, timeout)
		}
		time.Sleep(time.Second)
	}
}

// writeFile writes a file, creating its directory.
func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// push writes img to the suite's registry and returns its digest.
func push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(registry+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// mainPID returns a unit's main PID, failing when it has none.
func mainPID(t testing.TB, unit string) int {
	t.Helper()
	pid, err := strconv.Atoi(prop(t, unit, "MainPID"))
	if err != nil || pid == 0 {
		t.Fatalf("%s has no main PID (%v)", unit, err)
	}
	return pid
}

// cgroupFile reads a file of a unit's cgroup (cgroup v2, unified).
func cgroupFile(t testing.TB, unit, file string) string {
	t.Helper()
	cg := prop(t, unit, "ControlGroup")
	if cg == "" {
		t.Fatalf("%s has no cgroup", unit)
	}
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", cg, file))
	if err != nil {
		t.Fatalf("%s: %v", unit, err)
	}
	return strings.TrimSpace(string(b))
}

// assertContainerIsMainProcess checks what DESIGN.md promises: the unit's
// main PID is the container's PID 1, and the container's processes are in
// the unit's cgroup, with no berth process left behind.
func assertContainerIsMainProcess(t testing.TB, unit string) {
	t.Helper()
	pid := mainPID(t, unit)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "NSpid:" {
			if len(f) < 3 || f[len(f)-1] != "1" {
				t.Errorf("%s: main PID %d is not a container's PID 1: %s", unit, pid, line)
			}
		}
	}
	cg := prop(t, unit, "ControlGroup")
	self, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(self)), "0::"+cg) {
		t.Errorf("%s: main PID %d is in cgroup %s, not under the unit's %s", unit, pid, self, cg)
	}
	// Quoted: a unit name may hold a backslash (\x2d for a '-' in a service name).
	procs := sh(t, fmt.Sprintf("find '/sys/fs/cgroup%s' -name cgroup.procs -exec cat {} +", cg))
	for _, p := range strings.Fields(procs) {
		comm, _ := os.ReadFile("/proc/" + p + "/comm")
		if strings.HasPrefix(string(comm), "berth") {
			t.Errorf("%s: berth process %s (%s) remains in the unit's cgroup", unit, p, comm)
		}
	}
	if n := len(strings.Fields(cgroupFile(t, unit, "cgroup.procs"))); n != 0 {
		t.Errorf("%s: %d processes in the unit's own cgroup; cgroup v2 wants them in the container's child cgroup", unit, n)
	}
}
