package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// agentInterval is the re-list period the tests run the agent with.
const agentInterval = 2 * time.Second

// agentInstall installs systemd/dist/berth.service in the sandbox, pointed
// at the test's binary, dirs and a short re-list period, and starts it.
// berth.service is Type=notify with READY after the first reconcile, so
// when this returns the first reconcile is done.
func (e *berthEnv) agentInstall() {
	e.t.Helper()
	e.agentWriteUnit()
	e.agentStart()
}

// agentWriteUnit puts the dist unit, with the test's ExecStart, in /run.
func (e *berthEnv) agentWriteUnit() {
	e.t.Helper()
	dist, err := os.ReadFile("../../systemd/dist/berth.service")
	if err != nil {
		e.t.Fatal(err)
	}
	exec := fmt.Sprintf("ExecStart=%s --config-dir %s --state-dir %s agent --interval %s", e.bin, e.config, e.state, agentInterval)
	unit := strings.Replace(string(dist), "ExecStart=/usr/local/bin/berth agent", exec, 1)
	if !strings.Contains(unit, exec) {
		e.t.Fatalf("berth.service has no ExecStart=/usr/local/bin/berth agent line:\n%s", dist)
	}
	path := filepath.Join(e.config, "..", "berth.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.sh("cp " + path + " /run/systemd/system/berth.service && systemctl daemon-reload")
}

func (e *berthEnv) agentStart() {
	e.t.Helper()
	out, err := e.sb.Command(e.t.Context(), "systemctl", "start", "berth.service").CombinedOutput()
	if err != nil {
		e.t.Fatalf("starting berth.service: %v\n%s\n%s", err, out, e.agentJournal())
	}
}

func (e *berthEnv) agentJournal() string {
	return e.sh("journalctl --no-pager -o cat -u berth.service || true")
}

// agentReconciles counts the agent's reconcile passes with this trigger.
func (e *berthEnv) agentReconciles(trigger string) int {
	return strings.Count(e.agentJournal(), "msg=reconciled trigger="+trigger+" ")
}

func (e *berthEnv) agentActive(units ...string) bool {
	for _, u := range units {
		if e.prop(u, "ActiveState") != "active" {
			return false
		}
	}
	return true
}

// agentGit runs git in dir on the host (the config dir is a git checkout,
// as on a GitOps host).
func (e *berthEnv) agentGit(dir string, args ...string) {
	e.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@e", "-c", "init.defaultBranch=main"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func agentWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// agentService is a compose service that sleeps and stops fast.
func (e *berthEnv) agentService(name, extra string) string {
	return fmt.Sprintf("  %s:\n    image: %s/busybox:latest\n    command: [sleep, \"3600\"]\n    stop_signal: SIGKILL\n%s", name, e.registry, extra)
}

// TestAgentGitOps is the agent's user story on one host whose /etc/berth is
// a git checkout: boot, a multi-file pull, a broken file, a mounted config
// file, drift of every kind, berth stop/start, and a reboot.
func TestAgentGitOps(t *testing.T) {
	e := newBerthEnv(t)
	const (
		web   = "berth-app-web.service"
		proxy = "berth-app-proxy.service"
		db    = "berth-data-db.service"
	)
	// The "remote" repository people push to, and the host's checkout.
	upstream := filepath.Join(e.config, "..", "upstream")
	if err := os.MkdirAll(upstream, 0o755); err != nil {
		t.Fatal(err)
	}
	app := "services:\n" + e.agentService("web", "") + e.agentService("proxy", "    volumes:\n      - ./conf/proxy.conf:/etc/proxy.conf:ro\n")
	agentWrite(t, filepath.Join(upstream, "app", "compose.yaml"), app)
	agentWrite(t, filepath.Join(upstream, "app", "conf", "proxy.conf"), "upstream v1\n")
	agentWrite(t, filepath.Join(upstream, "data.yaml"), "services:\n"+e.agentService("db", ""))
	e.agentGit(upstream, "init", "-q")
	e.agentGit(upstream, "add", "-A")
	e.agentGit(upstream, "commit", "-qm", "v1")
	if err := os.RemoveAll(e.config); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("git", "clone", "-q", upstream, e.config).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}

	// Boot: the agent's first reconcile creates everything before
	// berth.service is active (Type=notify).
	e.agentInstall()
	if !e.agentActive(web, proxy, db) {
		t.Fatalf("berth.service is active but its units are not:\n%s", e.agentJournal())
	}
	pids := func() map[string]int {
		return map[string]int{web: e.mainPID(web), proxy: e.mainPID(proxy), db: e.mainPID(db)}
	}
	before := pids()

	// A git pull changing several files (web's command, a new service in
	// data, a new project) gives one reconcile.
	configs := e.agentReconciles("config")
	agentWrite(t, filepath.Join(upstream, "app", "compose.yaml"), strings.Replace(app, `[sleep, "3600"]`, `[sleep, "3601"]`, 1))
	agentWrite(t, filepath.Join(upstream, "data.yaml"), "services:\n"+e.agentService("db", "")+e.agentService("cache", ""))
	agentWrite(t, filepath.Join(upstream, "extra", "compose.yaml"), "services:\n"+e.agentService("one", ""))
	agentWrite(t, filepath.Join(upstream, "extra", "README"), "notes\n")
	e.agentGit(upstream, "add", "-A")
	e.agentGit(upstream, "commit", "-qm", "v2")
	e.agentGit(e.config, "pull", "-q")
	e.eventually(20*time.Second, "the pulled change to be applied", func() bool {
		return e.agentActive("berth-data-cache.service", "berth-extra-one.service") && e.mainPID(web) != before[web]
	})
	// The pass ends after the recreate's soak (a rollback check), later
	// than the new main PID shows.
	e.eventually(20*time.Second, "the pulled change's reconcile to end", func() bool {
		return e.agentReconciles("config")-configs >= 1
	})
	time.Sleep(agentInterval) // let any further (wrong) reconcile happen
	if n := e.agentReconciles("config") - configs; n != 1 {
		t.Errorf("a git pull of 4 files gave %d config reconciles, want 1:\n%s", n, e.agentJournal())
	}
	if e.mainPID(proxy) != before[proxy] || e.mainPID(db) != before[db] {
		t.Errorf("unchanged services were recreated: before %v after %v", before, pids())
	}

	// A broken file: running services keep their PIDs, status shows the
	// error with file and line; fixing it applies the fix.
	before = pids()
	agentWrite(t, filepath.Join(e.config, "app", "compose.yaml"), app+"  broken: [\n")
	e.eventually(15*time.Second, "the error in berth status", func() bool {
		out, _ := e.berth("status")
		return strings.Contains(out, filepath.Join(e.config, "app", "compose.yaml")) && strings.Contains(out, "line ")
	})
	status := e.mustBerth("status")
	t.Logf("status with a broken file:\n%s", status)
	if !strings.Contains(status, "using its last-good state") {
		t.Errorf("status does not say the last-good state is used:\n%s", status)
	}
	if out, err := e.berth("status", "--check"); err == nil {
		t.Errorf("status --check succeeded with a broken file:\n%s", out)
	}
	if j := e.agentJournal(); !strings.Contains(j, "config entry failed to load") || !strings.Contains(j, "line ") {
		t.Errorf("the journal does not show the error with its line:\n%s", j)
	}
	time.Sleep(agentInterval + time.Second)
	if now := pids(); now[web] != before[web] || now[proxy] != before[proxy] {
		t.Errorf("a broken file disturbed running services: %v -> %v", before, now)
	}
	agentWrite(t, filepath.Join(e.config, "app", "compose.yaml"), strings.Replace(app, `[sleep, "3600"]`, `[sleep, "3602"]`, 1))
	e.eventually(15*time.Second, "the fixed file to be applied", func() bool {
		return e.mainPID(web) != before[web] && e.agentActive(web) && strings.Contains(e.sh("cat /proc/"+strconv.Itoa(e.mainPID(web))+"/cmdline | tr '\\0' ' '"), "3602")
	})
	// The status is written when the pass ends, after the units started.
	e.eventually(15*time.Second, "status without the error after the fix", func() bool {
		return !strings.Contains(e.mustBerth("status"), "last-good state")
	})

	// Drift: systemctl stop is undone within the re-list period.
	before = pids()
	e.sh("systemctl stop " + web)
	e.eventually(agentInterval+8*time.Second, "web to be repaired after systemctl stop", func() bool {
		return e.agentActive(web) && e.mainPID(web) != before[web]
	})
	// Drift: a limit changed by hand is undone by recreating the unit.
	e.sh("systemctl set-property --runtime " + db + " MemoryMax=50M")
	e.eventually(agentInterval+8*time.Second, "db to be recreated after set-property", func() bool {
		return e.agentActive(db) && e.mainPID(db) != before[db] && e.prop(db, "MemoryMax") == "infinity"
	})
	e.eventually(15*time.Second, "both repairs in berth status", func() bool {
		status = e.mustBerth("status")
		return strings.Contains(status, web+": unit was") && strings.Contains(status, db+": MemoryMax changed by hand")
	})

	// berth stop is respected; berth start resumes.
	e.mustBerth("stop", "app/proxy")
	time.Sleep(2*agentInterval + time.Second)
	if st := e.prop(proxy, "ActiveState"); st == "active" {
		t.Errorf("the agent started a service stopped with berth stop")
	}
	if out := e.mustBerth("status"); !strings.Contains(out, "app/proxy since") {
		t.Errorf("status does not show the stopped service:\n%s", out)
	}
	e.mustBerth("start", "proxy")
	if !e.agentActive(proxy) {
		t.Errorf("berth start did not start proxy")
	}
	e.agentRebootAndCheck(web, proxy, db, "berth-data-cache.service", "berth-extra-one.service")
}

// agentRebootAndCheck simulates a reboot: the agent and every unit stop,
// /run/berth is emptied, the agent starts and brings everything back.
func (e *berthEnv) agentRebootAndCheck(units ...string) {
	e.t.Helper()
	e.sh("systemctl stop berth.service && systemctl stop 'berth-*.service'")
	// A reboot unmounts everything; mounts a stop left behind (a cleanup
	// that ran out of time on a loaded host) are only logged here, the
	// crash test is the one that counts traces.
	if left := e.sh("awk '{print $5}' /proc/self/mountinfo | grep '^/run/berth/' || true"); left != "" {
		e.t.Logf("mounts left after stopping every unit (unmounted as a reboot would):\n%s", left)
		e.sh("awk '{print $5}' /proc/self/mountinfo | grep '^/run/berth/' | sort -r | xargs -r umount -l")
	}
	e.sh("rm -rf /run/berth")
	for _, u := range units {
		if e.prop(u, "ActiveState") == "active" {
			e.t.Fatalf("%s still active after the simulated shutdown", u)
		}
	}
	e.agentStart()
	for _, u := range units {
		if e.prop(u, "ActiveState") != "active" {
			e.t.Errorf("%s not back after the simulated reboot:\n%s", u, e.agentJournal())
		}
	}
}

// TestAgentCrashConvergence kills the agent with SIGKILL at random moments
// spread over whole 50-service applies — creates, recreates and removals —
// many times; systemd restarts it (Restart=on-failure) and it must converge
// to the last config: every service runs exactly one container of the last
// generation, no unit is failed, left over or half-made, and removing
// everything leaves no mount, cgroup or state behind.
func TestAgentCrashConvergence(t *testing.T) {
	e := newBerthEnv(t)
	const projects, perProject, killsPerRound = 5, 10, 3
	// write declares generation gen of the services of projects keep (a
	// changed command recreates a service) and deletes the other files.
	write := func(gen int, keep ...int) {
		for p := range projects {
			path := filepath.Join(e.config, fmt.Sprintf("p%d.yaml", p))
			if !slices.Contains(keep, p) {
				if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				continue
			}
			// p0's services join its default network (CNI); the
			// others have none, which keeps a 50-service apply short.
			extra := "    network_mode: none\n"
			if p == 0 {
				extra = ""
			}
			var b strings.Builder
			b.WriteString("services:\n")
			for s := range perProject {
				b.WriteString(strings.Replace(e.agentService(fmt.Sprintf("s%d", s), extra), `"3600"`, fmt.Sprintf(`"%d"`, 3600+gen), 1))
			}
			agentWrite(t, path, b.String())
		}
	}
	var all []string
	for p := range projects {
		for s := range perProject {
			all = append(all, fmt.Sprintf("berth-p%d-s%d.service", p, s))
		}
	}
	every := []int{0, 1, 2, 3, 4}
	write(0, every...)
	e.agentWriteUnit()
	// Restart at once and without a start limit: the test kills often.
	e.sh("mkdir -p /run/systemd/system/berth.service.d && printf '[Unit]\\nStartLimitIntervalSec=0\\n[Service]\\nRestartSec=100ms\\n' >/run/systemd/system/berth.service.d/crash.conf && systemctl daemon-reload")

	// An uninterrupted apply of 50 creates (READY follows the first
	// reconcile) measures how long the kill points are spread over.
	t0 := time.Now()
	e.agentStart()
	span := time.Since(t0)
	if !e.agentActive(all...) {
		t.Fatalf("berth.service is ready but not all 50 units are active:\n%s", e.agentJournal())
	}
	t.Logf("uninterrupted apply of 50 services: %v", span.Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	kills := 0
	rounds := []struct {
		what string
		gen  int
		keep []int
	}{
		{"recreate 50", 1, every},
		{"remove 30, recreate 20", 2, []int{0, 1}},
		{"create 30, recreate 20", 3, every},
	}
	for _, r := range rounds {
		write(r.gen, r.keep...)
		// Kill points spread uniformly over the round's apply (its
		// span is about the measured one): in pulls, stops, starts and
		// the restarted agent's own first reconcile. The next round's
		// change follows the last kill, without waiting for the end.
		at := make([]time.Duration, killsPerRound)
		for i := range at {
			at[i] = time.Duration(rng.Int64N(int64(span)))
		}
		slices.Sort(at)
		start := time.Now()
		for _, d := range at {
			time.Sleep(time.Until(start.Add(d)))
			kills++
			t.Logf("%s: kill %d at %v (%s units active)", r.what, kills, d.Round(time.Millisecond),
				e.sh("systemctl list-units --plain --no-legend --state=active 'berth-p*' | wc -l"))
			e.sh("systemctl kill -s SIGKILL berth.service")
			e.eventually(15*time.Second, "berth.service to be restarted", func() bool {
				st := e.prop("berth.service", "ActiveState")
				return st == "active" || st == "activating"
			})
		}
	}
	e.eventually(90*time.Second, "all 50 services to run the last generation", func() bool {
		return e.agentActive(all...) && e.prop("berth.service", "ActiveState") == "active"
	})
	time.Sleep(agentInterval)
	if failed := e.sh("systemctl list-units --plain --no-legend --state=failed 'berth-*' || true"); failed != "" {
		t.Errorf("failed units after convergence:\n%s", failed)
	}
	if n := e.sh("systemctl list-units --all --plain --no-legend 'berth-p*' | wc -l"); n != "50" {
		t.Errorf("%s berth-p* units loaded, want 50:\n%s", n, e.sh("systemctl list-units --all --plain --no-legend 'berth-p*'"))
	}
	// Every container runs the last generation's command.
	cmdlines := e.sh(fmt.Sprintf("for u in %s; do echo \"$u $(tr '\\0' ' ' </proc/$(systemctl show -p MainPID --value $u)/cmdline)\"; done", strings.Join(all, " ")))
	for _, l := range strings.Split(cmdlines, "\n") {
		if !strings.Contains(l, "3603") {
			t.Errorf("not the last generation: %s", l)
		}
	}
	// Exactly one container per service: one libcontainer state, one
	// rootfs mount, one process in each unit's cgroup tree.
	if n := e.sh("ls /run/berth/containers | wc -l"); n != "50" {
		t.Errorf("%s container dirs, want 50: %s", n, e.sh("ls /run/berth/containers"))
	}
	// One rootfs mount per container, one netns mount per networked one
	// (p0's ten).
	mounts := e.sh("awk '{print $5}' /proc/self/mountinfo | grep '^/run/berth/' || true")
	if n := strings.Count(mounts+"\n", "/rootfs\n"); n != 50 {
		t.Errorf("%d rootfs mounts for 50 containers:\n%s", n, mounts)
	}
	if n := strings.Count(mounts, "/run/berth/netns/"); n != perProject {
		t.Errorf("%d netns mounts for %d networked containers:\n%s", n, perProject, mounts)
	}
	procs := e.sh(fmt.Sprintf("for u in %s; do cg=$(systemctl show -p ControlGroup --value $u); d=/sys/fs/cgroup/systemd$cg; [ -d $d ] || d=/sys/fs/cgroup$cg; echo \"$u $(find $d -name cgroup.procs -exec cat {} + | sort -u | wc -l)\"; done", strings.Join(all, " ")))
	for _, l := range strings.Split(procs, "\n") {
		if f := strings.Fields(l); len(f) != 2 || f[1] != "1" {
			t.Errorf("want one process (its container) per unit: %s", l)
		}
	}
	if n := e.sh("ls " + filepath.Join(e.state, "specs") + " | wc -l"); n != "50" {
		t.Errorf("%s frozen specs for 50 services: %s", n, e.sh("ls "+filepath.Join(e.state, "specs")))
	}
	// Removing every file removes every unit and every trace.
	write(4)
	e.eventually(60*time.Second, "all units to be removed", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-p*' || true") == ""
	})
	// A unit is gone once its ExecStopPost cleanup ended; give slow
	// cleanups (CNI DEL under load) a moment before calling it a leak.
	traces := func() (mounts, cgroups, state string) {
		return e.sh("grep -E ' /run/berth' /proc/self/mountinfo || true"),
			e.sh(fmt.Sprintf("find /sys/fs/cgroup -path '*%s/*berth-p*' -type d 2>/dev/null || true", e.sb.Cgroup())),
			e.sh("find /run/berth/containers -mindepth 1 -maxdepth 1 2>/dev/null || true")
	}
	deadline := time.Now().Add(20 * time.Second)
	m, c, f := traces()
	for (m != "" || c != "" || f != "") && time.Now().Before(deadline) {
		time.Sleep(time.Second)
		m, c, f = traces()
	}
	if m != "" || c != "" || f != "" {
		t.Errorf("traces left after removing everything:\nmounts:\n%s\ncgroups:\n%s\ncontainer dirs:\n%s\njournal of berth-p0-s0:\n%s", m, c, f,
			e.sh("journalctl --no-pager -o cat -u berth-p0-s0.service | tail -25"))
	}
}

// TestAgentMountedConfigFile: editing a config file that a service
// bind-mounts from the config dir recreates that service and nothing else.
func TestAgentMountedConfigFile(t *testing.T) {
	e := newBerthEnv(t)
	const proxy, web = "berth-app-proxy.service", "berth-app-web.service"
	agentWrite(t, filepath.Join(e.config, "app", "compose.yaml"), "services:\n"+e.agentService("web", "")+
		strings.Replace(e.agentService("proxy", "    volumes:\n      - ./conf/proxy.conf:/etc/proxy.conf:ro\n"),
			`[sleep, "3600"]`, `[sh, -c, "cat /etc/proxy.conf; exec sleep 3600"]`, 1))
	agentWrite(t, filepath.Join(e.config, "app", "conf", "proxy.conf"), "upstream v1\n")
	e.agentInstall()
	if !e.agentActive(proxy, web) {
		t.Fatalf("units not active:\n%s\n%s", e.agentJournal(), e.sh("journalctl --no-pager -n 30 -u berth-app-web.service || true"))
	}
	proxyPID, webPID := e.mainPID(proxy), e.mainPID(web)
	agentWrite(t, filepath.Join(e.config, "app", "conf", "proxy.conf"), "upstream v2\n")
	e.eventually(15*time.Second, "proxy to be recreated with the new file", func() bool {
		return e.mainPID(proxy) != proxyPID && strings.Contains(e.sh("journalctl --no-pager -o cat -u "+proxy), "upstream v2")
	})
	if e.mainPID(web) != webPID {
		t.Errorf("editing proxy's config file recreated web")
	}
	if j := e.agentJournal(); !strings.Contains(j, "mount content /etc/proxy.conf") {
		t.Errorf("the agent's log does not name the changed mount content:\n%s", j)
	}
}
