package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startAtt applies a project whose service sleeps, for one-offs of it and
// execs into it.
func startAtt(t *testing.T) *berthEnv {
	e := newBerthEnv(t)
	e.writeProject("att", fmt.Sprintf(`services:
  tool:
    image: %s/busybox:latest
    command: ["sh", "-c", "exec sleep 1000"]
    stop_grace_period: 2s
`, e.registry))
	e.mustBerth("apply", "att")
	e.eventually(30*time.Second, "att/tool to run", func() bool { return e.prop("berth-att-tool.service", "ActiveState") == "active" })
	return e
}

// berthCmd is the berth command line for e.sh scripts.
func (e *berthEnv) berthCmd() string {
	return "env " + e.bin + " --config-dir " + e.config + " --state-dir " + e.state
}

// runLeftovers lists what one-offs of project left: units, files (specs,
// console sockets, container dirs, netns pins) and address reservations.
func (e *berthEnv) runLeftovers(project string) string {
	e.t.Helper()
	return e.sh(fmt.Sprintf("systemctl list-units --all --plain --no-legend 'berth-%s-*-run-*'; find %s /run/berth -name '*-run-*'; grep -rl -- -run- %s/networks /run/berth/cni 2>/dev/null || true",
		project, e.state, e.state))
}

// interrupt starts `berth args…` in the sandbox, waits for ready on its
// output, sends it sig by PID and returns its exit status and output.
func (e *berthEnv) interrupt(sig, ready, pattern string, args ...string) (int, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := os.CreateTemp(filepath.Dir(e.config), "out-")
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	cmd := e.sb.Command(ctx, "env", append([]string{e.bin, "--config-dir", e.config, "--state-dir", e.state}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	read := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	e.eventually(60*time.Second, fmt.Sprintf("%q from berth %v", ready, args), func() bool { return strings.Contains(read(), ready) })
	// The berth process (berth-launcher once berth exec handed over),
	// by PID; the sandbox's own processes only.
	pid := e.sh(fmt.Sprintf("pgrep -f '%s'", pattern))
	if strings.Contains(pid, "\n") {
		e.t.Fatalf("pattern %q matches several processes: %s", pattern, pid)
	}
	t0 := time.Now()
	e.sh("kill -" + sig + " " + pid)
	err = cmd.Wait()
	e.t.Logf("berth %v exited %d %v after %s", args, exitStatus(err), err, time.Since(t0).Round(time.Millisecond))
	return exitStatus(err), read()
}

// TestRunAttach: berth run attaches stdin by default (-i) and not with
// -i=false, bind-mounts a host path relative to the caller's directory
// (-v, :ro read-only), names the one-off (--name); SIGINT stops a running
// one-off and berth exits 130 with nothing left (unit, files, netns,
// veth, address); SIGTERM on berth exec ends the exec'd process and
// berth exits 143.
func TestRunAttach(t *testing.T) {
	e := startAtt(t)
	berth := e.berthCmd()

	out := e.sh("printf 'line-one\\nline-two\\n' | " + berth + " run att/tool sh -c 'wc -l; echo read-done'")
	if !regexp.MustCompile(`(?m)^\s*2\s*$`).MatchString(out) || !strings.Contains(out, "read-done") {
		t.Errorf("run with piped stdin: the command did not read its 2 lines:\n%s", out)
	}
	out = e.sh("echo not-for-you | " + berth + " run -i=false att/tool sh -c 'cat; echo cat-done'")
	if strings.Contains(out, "not-for-you") || !strings.Contains(out, "cat-done") {
		t.Errorf("run -i=false forwarded stdin:\n%s", out)
	}

	wd := filepath.Dir(e.config)
	if err := os.MkdirAll(filepath.Join(wd, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "data", "hello.txt"), []byte("from-the-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = e.sh("cd " + wd + " && " + berth + " run -v ./data:/mnt/data:ro -v " + wd + "/data:/rw att/tool sh -c 'cat /mnt/data/hello.txt; touch /mnt/data/x || echo ro-refused; echo w > /rw/written && echo rw-ok'")
	for _, want := range []string{"from-the-host", "ro-refused", "rw-ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("run -v: output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(wd, "data", "x")); err == nil {
		t.Errorf("run -v ./data:/mnt/data:ro wrote to the host directory")
	}
	if b, err := os.ReadFile(filepath.Join(wd, "data", "written")); err != nil || string(b) != "w\n" {
		t.Errorf("run -v SRC:/rw: the host does not see the file written inside: %q %v", b, err)
	}
	if out, err := e.berth("run", "-v", "./no-such-dir:/x", "att/tool", "true"); err == nil || !strings.Contains(out, "no-such-dir") {
		t.Errorf("run -v with a missing source: %v\n%s", err, out)
	}

	if unit := strings.TrimSpace(e.mustBerth("run", "-d", "--name", "job1", "att/tool", "sleep", "1")); unit != "berth-att-tool-run-job1.service" {
		t.Errorf("run -d --name job1 printed %q", unit)
	}
	e.eventually(30*time.Second, "the named one-off's unit to go away", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-att-*-run-*'") == ""
	})
	// A detached one-off's address goes with the next pass's network GC.
	e.mustBerth("apply", "att")
	if left := e.runLeftovers("att"); left != "" {
		t.Fatalf("the named one-off left:\n%s", left)
	}

	before := netleakCounts(e)
	code, out := e.interrupt("INT", "one-off-started", "^/.*/berth .*run att/tool", "run", "att/tool", "sh", "-c", "echo one-off-started; exec sleep 1000")
	if code != 130 {
		t.Errorf("SIGINT to berth run: exit %d, want 130\n%s", code, out)
	}
	if left := e.runLeftovers("att"); left != "" {
		t.Errorf("after SIGINT to berth run, the one-off left:\n%s", left)
	}
	if after := netleakCounts(e); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after SIGINT to berth run, network state differs:\nbefore %v\nafter  %v", before, after)
	}
	if ps := e.sh("pgrep -f '^sleep 1000$' | wc -l"); ps != "1" {
		t.Errorf("%s sleep 1000 processes, want only the service's", ps)
	}

	code, out = e.interrupt("TERM", "exec-started", "^/.*/berth(-launcher)? .*exec .*sleep 4343$", "exec", "att/tool", "sh", "-c", "echo exec-started; exec sleep 4343")
	if code != 143 {
		t.Errorf("SIGTERM to berth exec: exit %d, want 143\n%s", code, out)
	}
	if ps := e.sh("pgrep -f '^sleep 4343$' || true"); ps != "" {
		t.Errorf("the exec'd process outlived berth exec: %s", ps)
	}
}
