package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// berthEnv is one berth installation inside a sandboxed systemd: its binary,
// config dir and state dir (the run dir is the sandbox's own /run/berth).
type berthEnv struct {
	t        *testing.T
	sb       *Sandbox
	bin      string
	config   string
	state    string
	registry string
}

func newBerthEnv(t *testing.T) *berthEnv {
	t.Helper()
	e := berthEnvIn(t, WorkDir(t), "")
	reg := StartRegistry(t)
	img, err := BuildBusybox()
	if err != nil {
		t.Fatal(err)
	}
	reg.Push(t, reg.Addr()+"/busybox:latest", img)
	e.registry = reg.Addr()
	// Its own netns: the CNI bridges and firewall rules every service's
	// default network makes stay out of the host's.
	e.sb = BootSystemd(t, WithNetNS(reg.Addr()))
	return e
}

// berthEnvIn is a berthEnv in wd: berth built, an empty config dir, no
// sandbox yet (the caller pushes its images first, then boots one).
func berthEnvIn(t *testing.T, wd, registry string) *berthEnv {
	t.Helper()
	e := &berthEnv{t: t, bin: buildBerth(t, wd), config: filepath.Join(wd, "etc"), state: filepath.Join(wd, "state"), registry: registry}
	if err := os.MkdirAll(e.config, 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// buildBerth builds the binary as `make build` does.
func buildBerth(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "berth")
	// berth-launcher beside berth: the units berth writes execute it.
	cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", dir+"/", "./cmd/berth", "./cmd/berth-launcher")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building berth: %v\n%s", err, out)
	}
	BuildCNIPlugins(t, filepath.Join(dir, "cni"))
	return bin
}

// berth runs the CLI inside the sandbox and returns its combined output.
func (e *berthEnv) berth(args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{"BERTH_EXAMPLE_REGISTRY=" + e.registry, e.bin, "--config-dir", e.config, "--state-dir", e.state}, args...)
	out, err := e.sb.Command(ctx, "env", full...).CombinedOutput()
	return string(out), err
}

func (e *berthEnv) mustBerth(args ...string) string {
	e.t.Helper()
	out, err := e.berth(args...)
	if err != nil {
		e.t.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// sh runs a shell command inside the sandbox.
func (e *berthEnv) sh(script string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := e.sb.Command(ctx, "sh", "-c", script).CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (e *berthEnv) prop(unit, name string) string {
	return e.sh(fmt.Sprintf("systemctl show -p %s --value '%s'", name, unit))
}

func (e *berthEnv) mainPID(unit string) int {
	pid, _ := strconv.Atoi(e.prop(unit, "MainPID"))
	return pid
}

// eventually polls cond for up to d.
func (e *berthEnv) eventually(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *berthEnv) writeProject(name, compose string) {
	e.t.Helper()
	dir := filepath.Join(e.config, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

const (
	webUnit    = "berth-hello-web.service"
	tickerUnit = "berth-hello-ticker.service"
)

// TestWalkingSkeleton is issue 2's user story against a real systemd, a
// real registry and real containers.
func TestWalkingSkeleton(t *testing.T) {
	e := newBerthEnv(t)
	example, err := os.ReadFile("../../examples/hello/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e.writeProject("hello", string(example))

	out := e.mustBerth("apply")
	t.Logf("apply:\n%s", out)
	for _, want := range []string{"hello/web: created", "hello/ticker: created"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q", want)
		}
	}
	for _, u := range []string{webUnit, tickerUnit} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 50 -u '"+u+"' || true"))
		}
		e.assertContainerIsMainProcess(u)
	}
	e.eventually(10*time.Second, "ticker lines in the journal", func() bool {
		return strings.Contains(e.sh("journalctl --no-pager -u "+tickerUnit), "tick 2")
	})
	// busybox httpd listens inside the container's own network namespace.
	webPID := e.mainPID(webUnit)
	e.eventually(10*time.Second, "web to listen on 8080 in its own network namespace", func() bool {
		return strings.Contains(e.sh(fmt.Sprintf("cat /proc/%d/net/tcp /proc/%d/net/tcp6", webPID, webPID)), ":1F90 ")
	})
	if host := e.sh("cat /proc/net/tcp /proc/net/tcp6"); strings.Contains(host, ":1F90 ") {
		t.Errorf("web's port leaked into the host's network namespace")
	}
	e.assertMemoryLimit(tickerUnit, 64<<20)
	e.checkPs()

	// systemd restarts a killed container.
	old := e.mainPID(tickerUnit)
	e.sh(fmt.Sprintf("kill -9 %d", old))
	e.eventually(20*time.Second, "ticker to be restarted", func() bool {
		p := e.mainPID(tickerUnit)
		return p != 0 && p != old && e.prop(tickerUnit, "ActiveState") == "active"
	})
	e.assertContainerIsMainProcess(tickerUnit)

	// plan: nothing changed, then exactly the edited service.
	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan with nothing changed:\n%s", out)
	}
	e.writeProject("hello", strings.Replace(string(example), "echo tick", "echo tock", 1))
	out = e.mustBerth("plan")
	if !strings.Contains(out, "~ recreate hello/ticker") || strings.Contains(out, "recreate hello/web") {
		t.Errorf("plan after editing ticker's command:\n%s", out)
	}
	tickerPID := e.mainPID(tickerUnit)
	out = e.mustBerth("apply")
	if !strings.Contains(out, "hello/ticker: recreated") || strings.Contains(out, "hello/web:") {
		t.Errorf("apply after edit:\n%s", out)
	}
	if p := e.mainPID(webUnit); p != webPID {
		t.Errorf("web was touched: pid %d -> %d", webPID, p)
	}
	if p := e.mainPID(tickerUnit); p == tickerPID || p == 0 {
		t.Errorf("ticker not recreated: pid %d -> %d", tickerPID, p)
	}
	e.eventually(10*time.Second, "tock lines", func() bool {
		return strings.Contains(e.sh("journalctl --no-pager -u "+tickerUnit), "tock")
	})

	e.checkBadInput(string(example))

	out = e.mustBerth("down", "hello")
	t.Logf("down:\n%s", out)
	e.assertNoTraces()

	// Removing the directory and applying removes the project as well.
	e.mustBerth("apply")
	if e.prop(webUnit, "ActiveState") != "active" {
		t.Fatal("web not active after re-apply")
	}
	if err := os.RemoveAll(filepath.Join(e.config, "hello")); err != nil {
		t.Fatal(err)
	}
	out = e.mustBerth("apply")
	if !strings.Contains(out, "hello/web: removed") || !strings.Contains(out, "hello/ticker: removed") {
		t.Errorf("apply after removing the project:\n%s", out)
	}
	e.assertNoTraces()
}

// assertContainerIsMainProcess: the unit's main PID is PID 1 of its own PID
// namespace, it lives in the unit's cgroup, and no berth process is left.
func (e *berthEnv) assertContainerIsMainProcess(unit string) {
	e.t.Helper()
	pid := e.mainPID(unit)
	if pid == 0 {
		e.t.Fatalf("%s has no main PID", unit)
	}
	nspid := e.sh(fmt.Sprintf("grep NSpid /proc/%d/status", pid))
	if f := strings.Fields(nspid); len(f) < 3 || f[len(f)-1] != "1" {
		e.t.Errorf("%s: main PID %d is not a container's PID 1: %s", unit, pid, nspid)
	}
	cg := e.prop(unit, "ControlGroup")
	procs := e.sh(fmt.Sprintf("find /sys/fs/cgroup/systemd%s -name cgroup.procs -exec cat {} + 2>/dev/null || find /sys/fs/cgroup%s -name cgroup.procs -exec cat {} +", cg, cg))
	found := false
	for _, p := range strings.Fields(procs) {
		if p == strconv.Itoa(pid) {
			found = true
		}
		comm := e.sh("cat /proc/" + p + "/comm 2>/dev/null || true")
		if strings.HasPrefix(comm, "berth") {
			e.t.Errorf("%s: berth process %s (%s) remains in the unit's cgroup", unit, p, comm)
		}
	}
	if !found {
		e.t.Errorf("%s: main PID %d not in the unit's cgroup %s (procs %q)", unit, pid, cg, procs)
	}
}

func (e *berthEnv) assertMemoryLimit(unit string, want int64) {
	e.t.Helper()
	cg := e.prop(unit, "ControlGroup")
	pid := e.mainPID(unit)
	limit := e.sh(fmt.Sprintf("cat /sys/fs/cgroup/memory%s/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup%s/memory.max", cg, cg))
	if limit != strconv.FormatInt(want, 10) {
		e.t.Errorf("%s: memory limit %s, want %d", unit, limit, want)
	}
	// The container's own memory cgroup must sit below the limited one.
	mem := e.sh(fmt.Sprintf("grep -E '(:memory:|^0::)' /proc/%d/cgroup | head -1", pid))
	if !strings.Contains(mem, cg+"/") {
		e.t.Errorf("%s: container memory cgroup %q is not below %s", unit, mem, cg)
	}
}

func (e *berthEnv) checkPs() {
	e.t.Helper()
	out := e.mustBerth("ps")
	e.t.Logf("ps:\n%s", out)
	for _, want := range []string{"hello", "web", "ticker", "active", e.registry + "/busybox:latest", "sha256:"} {
		if !strings.Contains(out, want) {
			e.t.Errorf("ps lacks %q", want)
		}
	}
	var rows []struct {
		Service string `json:"service"`
		State   string `json:"state"`
		MainPID int    `json:"main_pid"`
		Image   string `json:"image"`
		Digest  string `json:"digest"`
		Uptime  string `json:"uptime"`
	}
	js := e.mustBerth("ps", "--format", "json")
	if err := json.Unmarshal([]byte(js), &rows); err != nil {
		e.t.Fatalf("ps --format json: %v\n%s", err, js)
	}
	if len(rows) != 2 {
		e.t.Fatalf("ps json: want 2 rows, got %d", len(rows))
	}
	for _, r := range rows {
		unit := "berth-hello-" + r.Service + ".service"
		if r.State != "active" || r.MainPID != e.mainPID(unit) || !strings.HasPrefix(r.Digest, "sha256:") || r.Uptime == "" {
			e.t.Errorf("ps json row %+v does not match unit %s", r, unit)
		}
	}
}

// assertNoTraces: no unit, mount, libcontainer state, cgroup or file left.
func (e *berthEnv) assertNoTraces() {
	e.t.Helper()
	e.eventually(10*time.Second, "units to be gone", func() bool {
		return !strings.Contains(e.sh("systemctl list-units --all --plain --no-legend 'berth-*'"), "berth-hello")
	})
	if m := e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"); m != "" {
		e.t.Errorf("mounts left under the run dir:\n%s", m)
	}
	if f := e.runDirLeftovers(); f != "" {
		e.t.Errorf("left in the run dir:\n%s", f)
	}
	if c := e.sh(fmt.Sprintf("find /sys/fs/cgroup -path '*%s/*berth-hello*' -type d 2>/dev/null || true", e.sb.Cgroup())); c != "" {
		e.t.Errorf("cgroup dirs left:\n%s\n%s", c, e.sh("journalctl --no-pager -u 'berth-hello-*' | grep -iE 'cgroup|cleanup|error' | tail -20"))
	}
	if f := e.sh(fmt.Sprintf("find %s/containers -mindepth 1 2>/dev/null || true", e.state)); f != "" {
		e.t.Errorf("container dirs left in the state dir:\n%s", f)
	}
}

// checkBadInput: a broken file names its file and line and touches nothing;
// an image that cannot be pulled fails only its own service, in plain words.
func (e *berthEnv) checkBadInput(good string) {
	e.t.Helper()
	web, ticker := e.mainPID(webUnit), e.mainPID(tickerUnit)
	e.writeProject("hello", good+"  broken: [\n")
	out, err := e.berth("apply")
	if err == nil || !strings.Contains(out, filepath.Join(e.config, "hello", "compose.yaml")) || !strings.Contains(out, "line ") {
		e.t.Errorf("apply of a broken file: err=%v, want file and line in:\n%s", err, out)
	}
	if e.mainPID(webUnit) != web || e.mainPID(tickerUnit) != ticker {
		e.t.Errorf("a broken file disturbed running services")
	}
	e.writeProject("hello", good)

	e.writeProject("bad", "services:\n  app:\n    image: "+e.registry+"/does-not-exist:latest\n  ok:\n    image: "+e.registry+"/busybox:latest\n    command: [sh, -c, \"trap 'echo got TERM; exit 0' TERM; while true; do sleep 1; done\"]\n    stop_grace_period: 20s\n")
	out, err = e.berth("apply", "bad")
	if err == nil || !strings.Contains(out, "bad/app") {
		e.t.Errorf("apply with an unpullable image: err=%v\n%s", err, out)
	}
	if st := e.prop("berth-bad-ok.service", "ActiveState"); st != "active" {
		e.t.Errorf("the good service of a project with a bad image is %s", st)
	}
	journal := e.sh("journalctl --no-pager -u berth-bad-app.service")
	if !strings.Contains(journal, "does-not-exist") || !strings.Contains(journal, "pulling") {
		e.t.Errorf("journal does not say why the pull failed:\n%s", journal)
	}
	// docker stop semantics: stop_signal reaches PID 1, which exits on its
	// own well within the grace period; nothing is SIGKILLed.
	t0 := time.Now()
	e.mustBerth("down", "bad")
	if took := time.Since(t0); took > 15*time.Second {
		e.t.Errorf("down of a service that exits on SIGTERM took %v", took)
	}
	if j := e.sh("journalctl --no-pager -u berth-bad-ok.service"); !strings.Contains(j, "got TERM") || strings.Contains(j, "status=9/KILL") {
		e.t.Errorf("stop did not deliver SIGTERM gracefully:\n%s", j)
	}
	if err := os.RemoveAll(filepath.Join(e.config, "bad")); err != nil {
		e.t.Fatal(err)
	}
}

// runDirLeftovers lists what a container left under /run/berth: any file,
// socket or mount point, but not the (empty) directories berth keeps and
// not host-local's per-network bookkeeping (lock, last_reserved_ip) nor
// the marker of a network's installed rules (cni/rules), which live as long
// as the network; an address reservation still counts.
func (e *berthEnv) runDirLeftovers() string {
	e.t.Helper()
	return e.sh("find /run/berth -mindepth 1 ! -type d ! -name lock ! -name 'last_reserved_ip*' ! -path '/run/berth/cni/rules/*' 2>/dev/null || true")
}
