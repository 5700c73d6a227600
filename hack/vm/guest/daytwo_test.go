//go:build vmguest

package guest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// testDayTwo runs exec, top and stats against the non-root service on
// pure cgroup v2, the host the day-two commands read their numbers from.
func testDayTwo(t *testing.T) {
	const u = "berth-nonroot-app.service"
	waitActive(t, time.Minute, u)
	if id := strings.TrimSpace(run(t, "berth", "exec", "nonroot/app", "id", "-u")); id != "1000" {
		t.Errorf("berth exec id -u = %q, want the service's user 1000", id)
	}
	out, err := exec.Command("berth", "exec", "nonroot/app", "sh", "-c", "exit 7").CombinedOutput()
	if code := exitCode(err); code != 7 {
		t.Errorf("berth exec sh -c 'exit 7': exit %d (%s)", code, out)
	}
	// The exec'd process sits in the unit's cgroup (seen from the host: the
	// container has its own cgroup namespace), so systemd lists it.
	bg := exec.Command("berth", "exec", "nonroot/app", "sleep", "737")
	if err := bg.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bg.Process.Kill(); _ = bg.Wait() }()
	var pid string
	eventually(t, time.Minute, "the exec'd sleep to run", func() bool {
		pid = strings.TrimSpace(sh(t, "pgrep -f -x 'sleep 737' || true"))
		return pid != ""
	})
	if cg := sh(t, "cat /proc/"+strings.Fields(pid)[0]+"/cgroup"); !strings.Contains(cg, "/"+u+"/") {
		t.Errorf("the exec'd process is in %q, not inside %s", cg, u)
	}
	if st := run(t, "systemctl", "status", "--no-pager", "-l", u); !strings.Contains(st, "sleep 737") {
		t.Errorf("systemctl status %s does not list the exec'd process:\n%s", u, st)
	}
	if top := run(t, "berth", "top", "nonroot/app"); !strings.Contains(top, "sleep 86400") {
		t.Errorf("berth top lacks the container's PID 1:\n%s", top)
	}
	var rows []map[string]any
	stats := run(t, "berth", "stats", "--no-stream", "--format", "json", "nonroot")
	if err := json.Unmarshal([]byte(stats), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("berth stats json (%v):\n%s", err, stats)
	}
	t.Logf("stats: %v", rows[0])
	for _, k := range []string{"memory_bytes", "pids"} {
		if v, _ := rows[0][k].(float64); v <= 0 {
			t.Errorf("stats %s = %v on cgroup v2, want > 0: %v", k, rows[0][k], rows[0])
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// testSecrets: a file secret and an environment secret reach the
// container, survive a restart (the environment one as a systemd
// credential), and neither value is ever written under berth's state dir.
func testSecrets(t *testing.T) {
	const fileMark, envMark = "vm-file-secret-4f1c", "vm-env-secret-9a2e"
	writeFile(t, configDir+"/sec/file.txt", fileMark, 0o600)
	writeFile(t, configDir+"/sec/compose.yaml", fmt.Sprintf(`secrets:
  filesec:
    file: ./file.txt
  envsec:
    environment: VM_SECRET
services:
  app:
    image: %s/vm/busybox:latest
    command: ["sh", "-c", "exec sleep 86400"]
    secrets:
      - source: filesec
        uid: "1000"
        mode: 0400
      - envsec
`, registry), 0o644)
	cmd := exec.Command("berth", "apply", "sec")
	cmd.Env = append(os.Environ(), "VM_SECRET="+envMark)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	const u = "berth-sec-app.service"
	check := func(when string) {
		waitActive(t, time.Minute, u)
		got := run(t, "berth", "exec", "sec/app", "cat", "/run/secrets/filesec", "/run/secrets/envsec")
		if !strings.Contains(got, fileMark) || !strings.Contains(got, envMark) {
			t.Errorf("%s: the container reads %q", when, got)
		}
		if hits := sh(t, "grep -rlF -e "+fileMark+" -e "+envMark+" /var/lib/berth || true"); hits != "" {
			t.Errorf("%s: a secret's value is at rest in %s", when, hits)
		}
	}
	check("after apply")
	run(t, "systemctl", "restart", u)
	check("after a restart")
	run(t, "berth", "down", "sec")
	run(t, "rm", "-r", configDir+"/sec")
}

// testBuild builds a service from a Dockerfile with buildah (FROM the
// suite's registry, RUN, COPY, USER 1000, HEALTHCHECK) and runs it: the
// built image's user and health check take effect on the users' hosts.
func testBuild(t *testing.T) {
	dir := configDir + "/bld"
	writeFile(t, dir+"/web/Dockerfile", fmt.Sprintf(`FROM %s/vm/busybox:latest
RUN mkdir -p /www && echo built-in-vm > /www/index.html
COPY hello.txt /www/hello.txt
USER 1000
HEALTHCHECK --interval=2s --timeout=5s --retries=3 CMD test -f /www/hello.txt
CMD ["sh", "-c", "id -u; exec sleep 86400"]
`, registry), 0o644)
	writeFile(t, dir+"/web/hello.txt", "hello\n", 0o644)
	writeFile(t, dir+"/compose.yaml", "services:\n  web:\n    build: ./web\n", 0o644)
	out, err := runErr("berth", "apply", "bld")
	t.Logf("apply:\n%s", out)
	if err != nil {
		t.Fatalf("apply of a build: service: %v\n%s", err, journal(t, "berth-bld-web.build.service"))
	}
	const u = "berth-bld-web.service"
	waitActive(t, 2*time.Minute, u)
	if id := strings.TrimSpace(run(t, "berth", "exec", "bld/web", "id", "-u")); id != "1000" {
		t.Errorf("built image's USER 1000: exec id -u = %q", id)
	}
	eventually(t, 2*time.Minute, "the built image's HEALTHCHECK to pass", func() bool {
		for _, f := range strings.Fields(run(t, "berth", "ps", "bld")) {
			if f == "healthy" {
				return true
			}
		}
		return false
	})
	// An unchanged context builds nothing again.
	if out := run(t, "berth", "plan", "bld"); strings.Contains(out, "rebuild") {
		t.Errorf("plan after the build wants a rebuild:\n%s", out)
	}
	run(t, "berth", "down", "bld")
	run(t, "rm", "-r", dir)
}
