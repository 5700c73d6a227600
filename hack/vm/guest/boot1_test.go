//go:build vmguest

package guest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBoot1 runs at the VM's first boot: the README's example, cgroup v2
// limits, a project that uses berth's features with a non-root image,
// generate systemd, the agent and the auto-update timer. The reboot
// follows; TestBoot2 checks what came back.
func TestBoot1(t *testing.T) {
	runSteps(t, []step{
		{"Example", testExample},
		{"Registry", testRegistry},
		{"CgroupLimits", testCgroupLimits},
		{"OOMKill", testOOMKill},
		{"FailedStartCleansUp", testFailedStartCleansUp},
		{"Features", testFeatures},
		{"Kube", testKube},
		{"NonRoot", testNonRoot},
		{"Rollback", testRollback},
		{"DayTwo", testDayTwo},
		{"Secrets", testSecrets},
		{"Build", testBuild},
		{"GenerateSystemd", testGenerateSystemd},
		{"Agent", testAgent},
		{"AutoUpdateTimer", testAutoUpdateTimerSetup},
	})
}

// testExample runs the README's first command's last step on the host it
// was written for (deps and install ran in the rootfs before the boot).
func testExample(t *testing.T) {
	out := run(t, "make", "-o", "install", "example")
	t.Logf("make example:\n%s", out)
	ps := run(t, "berth", "ps")
	for _, svc := range []string{"hello/web", "hello/ticker"} {
		if !hasRow(ps, svc, "active") {
			t.Errorf("berth ps has no active %s:\n%s", svc, ps)
		}
	}
	for _, u := range []string{"berth-hello-web.service", "berth-hello-ticker.service"} {
		assertContainerIsMainProcess(t, u)
	}
	if got := cgroupFile(t, "berth-hello-ticker.service", "memory.max"); got != "67108864" {
		t.Errorf("hello/ticker has mem_limit: 64m; memory.max = %s, want 67108864", got)
	}
	eventually(t, 30*time.Second, "hello/ticker to tick in the journal", func() bool {
		return strings.Contains(journal(t, "berth-hello-ticker.service"), "tick 2")
	})
}

// hasRow reports whether `berth ps` has a row for project/service with a
// column starting with state ("active" matches "active/running").
func hasRow(table, svc, state string) bool {
	project, service, _ := strings.Cut(svc, "/")
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != project || f[1] != service {
			continue
		}
		for _, col := range f[2:] {
			if strings.HasPrefix(col, state) {
				return true
			}
		}
	}
	return false
}

// testRegistry starts the suite's registry as a unit file (it must come
// back after the reboot) and pushes the test images.
func testRegistry(t *testing.T) {
	dir := "/var/lib/vm-registry"
	writeFile(t, dir+"/config.yml", fmt.Sprintf(`version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: %s/storage}, delete: {enabled: true}}
http: {addr: "%s"}
`, dir, registry), 0o600)
	writeFile(t, "/etc/systemd/system/vm-registry.service", fmt.Sprintf(`[Unit]
Description=the VM suite's registry
[Service]
ExecStart=/usr/bin/docker-registry serve %s/config.yml
[Install]
WantedBy=multi-user.target
`, dir), 0o644)
	run(t, "systemctl", "daemon-reload")
	run(t, "systemctl", "enable", "--now", "vm-registry.service")
	getEventually(t, 30*time.Second, "http://"+registry+"/v2/")
	push(t, "vm/app:latest", appImage(t))
	push(t, "vm/busybox:latest", busybox(t, "plain"))
	d := push(t, "vm/upd:stable", busybox(t, "v1"))
	writeFile(t, stateDir+"/upd-v1", d, 0o644)
}

// applyShortLived applies a project that lives only within boot 1: at the
// end its file goes and `berth down` removes it, so the agent has nothing
// to bring back after the reboot. (A second --config-dir would not do: the
// config dir is the whole desired state, and apply prunes what it lacks.)
func applyShortLived(t *testing.T, project, compose string) (string, error) {
	t.Helper()
	dir := filepath.Join(configDir, project)
	writeFile(t, dir+"/compose.yaml", compose, 0o644)
	t.Cleanup(func() {
		os.RemoveAll(dir)
		if out, err := runErr("berth", "down", project); err != nil {
			t.Errorf("berth down %s: %v\n%s", project, err, out)
		}
	})
	return runErr("berth", "apply")
}

// testCgroupLimits: compose's limits land in the unit's cgroup v2 files.
func testCgroupLimits(t *testing.T) {
	out, err := applyShortLived(t, "limits", fmt.Sprintf(`services:
  capped:
    image: %s/vm/busybox:latest
    command: ["sleep", "86400"]
    mem_limit: 64m
    pids_limit: 50
    cpus: 0.5
    cpu_shares: 512
`, registry))
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	const u = "berth-limits-capped.service"
	waitActive(t, time.Minute, u)
	assertContainerIsMainProcess(t, u)
	want := map[string]string{
		"memory.max": "67108864",
		"pids.max":   "50",
		"cpu.max":    "50000 100000",
		"cpu.weight": "50", // cpu_shares 512 of docker's 1024 = half systemd's default 100
	}
	for file, w := range want {
		got := cgroupFile(t, u, file)
		t.Logf("%s: %s = %s", u, file, got)
		if got != w {
			t.Errorf("%s = %q, want %q", file, got, w)
		}
	}
	t.Logf("cgroup.controllers at the root: %s", sh(t, "cat /sys/fs/cgroup/cgroup.controllers"))
}

// testOOMKill: a container whose main process allocates past mem_limit is
// OOM-killed inside the unit's memory.max, the unit fails, and the reason
// reaches the journal and `berth status`. systemd 252 reports
// Result=signal, not oom-kill: the kill happens in the container's child
// cgroup, where systemd does not look (see runtime/oom.go).
func testOOMKill(t *testing.T) {
	out, err := applyShortLived(t, "oom", fmt.Sprintf(`services:
  hog:
    image: %s/vm/busybox:latest
    # dd's buffer is bs bytes, filled from /dev/zero: 128 MiB resident.
    command: ["sh", "-c", "sleep 3; exec dd if=/dev/zero of=/dev/null bs=128M count=4"]
    mem_limit: 64m
    restart: "no"
`, registry))
	t.Logf("apply (err %v):\n%s", err, out)
	const u = "berth-oom-hog.service"
	eventually(t, 90*time.Second, u+" to end", func() bool {
		st := prop(t, u, "ActiveState")
		return st == "failed" || st == "inactive"
	})
	r := prop(t, u, "Result")
	t.Logf("%s: Result=%s", u, r)
	if r != "oom-kill" && r != "signal" {
		t.Errorf("%s: Result=%s, want oom-kill or signal\n%s", u, r, journal(t, u))
	}
	const why = "killed by the kernel's OOM killer"
	if j := journal(t, u); !strings.Contains(j, why) {
		t.Errorf("the journal does not say the container was OOM-killed:\n%s", j)
	}
	if st, _ := runErr("berth", "status"); !strings.Contains(st, why) {
		t.Errorf("berth status does not say why hog failed:\n%s", st)
	}
}

// testFailedStartCleansUp: a container that exits before its first
// passing health check fails the start of a service another one waits
// for (service_healthy), apply says why, and the launcher's cleanup
// removes what it made without errors (on cgroup v2 the launcher sits in
// the unit's "launcher" leaf while it cleans up).
func testFailedStartCleansUp(t *testing.T) {
	out, err := applyShortLived(t, "crash", fmt.Sprintf(`services:
  app:
    image: %[1]s/vm/busybox:latest
    command: ["sh", "-c", "sleep 1; exit 3"]
    restart: "no"
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
      start_period: 5s
  waiter:
    image: %[1]s/vm/busybox:latest
    command: ["sleep", "86400"]
    depends_on:
      app: {condition: service_healthy}
`, registry))
	if err == nil {
		t.Errorf("apply of a service that exits before it is healthy succeeded:\n%s", out)
	}
	if !strings.Contains(out, "exited before its first passing health check") {
		t.Errorf("apply does not say why the start failed:\n%s", out)
	}
	const u = "berth-crash-app.service"
	eventually(t, time.Minute, u+" to settle", func() bool {
		st := prop(t, u, "ActiveState")
		return st == "failed" || st == "inactive"
	})
	if j := journal(t, u); strings.Contains(j, "level=ERROR") {
		t.Errorf("cleanup after the failed start logged errors:\n%s", j)
	}
	if ents, err := os.ReadDir("/run/berth/containers/crash-app"); err == nil && len(ents) > 0 {
		t.Errorf("the failed container left /run/berth/containers/crash-app: %v", ents)
	}
}

// featuresProject uses what users combine: a health-gated depends_on
// chain, a non-root image with its own USER, a named volume, a secret, two
// services that reach each other by name and a published port, a notify
// service, socket activation and an auto-updated service.
func featuresProject() string {
	return fmt.Sprintf(`services:
  db:
    image: %[1]s/vm/app:latest
    command: ["sh", "-c", "mkdir -p /data/www && echo db-ok > /data/www/health && exec httpd -f -p 5432 -h /data/www"]
    volumes: ["dbdata:/data"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5432/health"]
      interval: 2s
      start_period: 1s
      start_interval: 500ms
      retries: 30
  api:
    image: %[1]s/vm/app:latest
    command: ["sh", "-c", "mkdir -p /tmp/www && id > /tmp/www/id && cat /run/secrets/token > /tmp/www/token && wget -q -O /tmp/www/db http://db:5432/health && exec httpd -f -p 8080 -h /tmp/www"]
    tmpfs: ["/tmp"]
    secrets:
      - source: token
        uid: "1000"
        mode: 0400
    ports: ["127.0.0.1:18080:8080"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/id"]
      interval: 2s
      start_interval: 500ms
      retries: 30
  web:
    image: %[1]s/vm/busybox:latest
    command: ["sh", "-c", "while true; do echo \"from api: $$(wget -q -O - http://api:8080/id)\"; sleep 2; done"]
    depends_on:
      api: {condition: service_healthy}
  notifier:
    image: %[1]s/vm/app:latest
    command: ["sdhelper", "notify", "1s"]
    x-berth:
      notify: true
  sock:
    image: %[1]s/vm/app:latest
    command: ["sdhelper", "serve-fd3"]
    x-berth:
      sockets:
        - listen: "127.0.0.1:18090"
          name: web
  upd:
    image: %[1]s/vm/upd:stable
    command: ["sh", "-c", "echo running $$(cat /version); exec sleep 86400"]
    x-berth:
      autoupdate: registry
      soak: 5s
volumes:
  dbdata: {}
secrets:
  token:
    file: ./token.txt
`, registry)
}

var featureUnits = []string{
	"berth-feat-db.service", "berth-feat-api.service", "berth-feat-web.service",
	"berth-feat-notifier.service", "berth-feat-upd.service", "berth-feat-sock.socket",
}

func testFeatures(t *testing.T) {
	writeFile(t, configDir+"/berth.yaml", "autoupdate: {schedule: \"off\"}\n", 0o644)
	writeFile(t, configDir+"/feat/token.txt", "s3cret-token\n", 0o600)
	writeFile(t, configDir+"/feat/compose.yaml", featuresProject(), 0o644)
	out, err := runErr("berth", "apply")
	t.Logf("apply (err %v):\n%s", err, out)
	if err != nil {
		t.Errorf("berth apply: %v", err)
	}
	waitActive(t, 3*time.Minute, featureUnits...)
	checkFeatures(t)
}

// checkFeatures asserts what the features project serves; boot 2 runs it
// again on the units the agent rebuilt.
func checkFeatures(t *testing.T) {
	for _, u := range featureUnits {
		if strings.HasSuffix(u, ".service") {
			assertContainerIsMainProcess(t, u)
		}
	}
	// Published port, non-root image, tmpfs, secret with uid, peer by name.
	id := getEventually(t, time.Minute, "http://127.0.0.1:18080/id")
	if !strings.Contains(id, "uid=1000") {
		t.Errorf("api runs as %q; the image's USER is 1000", id)
	}
	if tok := getEventually(t, 10*time.Second, "http://127.0.0.1:18080/token"); tok != "s3cret-token\n" {
		t.Errorf("api read its secret as %q", tok)
	}
	if db := getEventually(t, 10*time.Second, "http://127.0.0.1:18080/db"); db != "db-ok\n" {
		t.Errorf("api fetched %q from http://db:5432/health (written by uid 1000 into the named volume)", db)
	}
	eventually(t, time.Minute, "web to reach api by name", func() bool {
		return strings.Contains(journal(t, "berth-feat-web.service"), "from api: uid=1000")
	})
	ps := run(t, "berth", "ps")
	for _, svc := range []string{"feat/db", "feat/api"} {
		if !hasRow(ps, svc, "healthy") {
			t.Errorf("berth ps does not show %s healthy:\n%s", svc, ps)
		}
	}
	// Notify: the launcher forwarded the container's READY=1 and STATUS=.
	if st := prop(t, "berth-feat-notifier.service", "StatusText"); st != "serving" {
		t.Errorf("notifier's StatusText = %q, want serving", st)
	}
	// Socket activation: the socket unit answers; its first connection
	// starts the service, whose container's PID 1 serves the inherited fd.
	body := getEventually(t, time.Minute, "http://127.0.0.1:18090/")
	if !strings.Contains(body, "served by pid=1") || !strings.Contains(body, "names=web") {
		t.Errorf("socket-activated answer %q", body)
	}
	waitActive(t, 30*time.Second, "berth-feat-sock.service")
	assertContainerIsMainProcess(t, "berth-feat-sock.service")
}

// testNonRoot is the reproduction of issue "Real images run": a root
// image run as user 1000 must be able to read its own root filesystem.
func testNonRoot(t *testing.T) {
	writeFile(t, configDir+"/nonroot/compose.yaml", fmt.Sprintf(`services:
  app:
    image: %s/vm/busybox:latest
    user: "1000:1000"
    command: ["sh", "-c", "id; ls /; echo listed; exec sleep 86400"]
`, registry), 0o644)
	out, err := runErr("berth", "apply")
	t.Logf("apply (err %v):\n%s", err, out)
	const u = "berth-nonroot-app.service"
	waitActive(t, time.Minute, u)
	eventually(t, 30*time.Second, "the listing", func() bool { return strings.Contains(journal(t, u), "listed") })
	j := journal(t, u)
	if !strings.Contains(j, "uid=1000 gid=1000") || strings.Contains(j, "Permission denied") {
		t.Errorf("non-root container's output:\n%s", j)
	}
	time.Sleep(2 * time.Second)
	if st := prop(t, u, "ActiveState"); st != "active" {
		t.Errorf("%s is %s:\n%s", u, st, j)
	}
}

// testGenerateSystemd writes unit files for a project no agent manages
// and enables them; boot 2 checks they came back on their own.
func testGenerateSystemd(t *testing.T) {
	writeFile(t, genConfig+"/gen/compose.yaml", fmt.Sprintf(`services:
  pinger:
    image: %s/vm/busybox:latest
    command: ["sh", "-c", "mkdir -p /www && echo gen-ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:18070:8080"]
`, registry), 0o644)
	out := run(t, "berth", "--config-dir", genConfig, "generate", "systemd", "gen", "--output", "/etc/systemd/system")
	t.Logf("generate systemd:\n%s", out)
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "/") {
			if vout, err := runErr("systemd-analyze", "verify", f); err != nil {
				t.Errorf("systemd-analyze verify %s: %v\n%s", f, err, vout)
			}
		}
	}
	run(t, "systemctl", "daemon-reload")
	run(t, "systemctl", "enable", "--now", "berth-gen-pinger.service")
	if got := getEventually(t, time.Minute, "http://127.0.0.1:18070/"); got != "gen-ok\n" {
		t.Errorf("generated unit serves %q", got)
	}
}

// testAgent enables the agent as the README says; it must adopt what
// apply started without recreating it, and leave the generated units be.
func testAgent(t *testing.T) {
	before := map[string]string{}
	for _, u := range featureUnits {
		before[u] = prop(t, u, "MainPID")
	}
	run(t, "systemctl", "enable", "--now", "berth.service")
	waitActive(t, 3*time.Minute, "berth.service")
	time.Sleep(5 * time.Second) // a pass that would recreate or prune has run by now
	for u, pid := range before {
		if got := prop(t, u, "MainPID"); got != pid {
			t.Errorf("the agent restarted %s (main PID %s → %s)", u, pid, got)
		}
	}
	if st := prop(t, "berth-gen-pinger.service", "ActiveState"); st != "active" {
		t.Errorf("the agent touched the generated unit berth-gen-pinger.service: %s", st)
	}
	st, err := runErr("berth", "status", "--check")
	t.Logf("berth status --check (err %v):\n%s", err, st)
	if err != nil {
		t.Errorf("berth status --check: %v", err)
	}
}

// testAutoUpdateTimerSetup makes berth-auto-update.timer fire every 20 s
// (a drop-in, as a user would) and checks a run with nothing to update.
func testAutoUpdateTimerSetup(t *testing.T) {
	writeFile(t, "/etc/systemd/system/berth-auto-update.timer.d/vm.conf",
		"[Timer]\nOnCalendar=\nOnCalendar=*:*:0/20\nRandomizedDelaySec=0\nAccuracySec=1s\n", 0o644)
	run(t, "systemctl", "daemon-reload")
	run(t, "systemctl", "enable", "--now", "berth-auto-update.timer")
	eventually(t, 90*time.Second, "berth-auto-update.service to run", func() bool {
		return prop(t, "berth-auto-update.service", "ExecMainExitTimestampMonotonic") != "0"
	})
	if r := prop(t, "berth-auto-update.service", "Result"); r != "success" {
		t.Errorf("berth-auto-update.service: Result=%s\n%s", r, journal(t, "berth-auto-update.service"))
	}
	writeFile(t, filepath.Join(stateDir, "units-before-reboot"), strings.Join(featureUnits, "\n"), 0o644)
	if _, err := os.Stat("/var/lib/berth"); err != nil {
		t.Error(err)
	}
}
