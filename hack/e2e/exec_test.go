package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
)

const opsWeb = "berth-ops-web.service"

// startOps applies a project whose service has a file and an environment
// only its container has, under a memory limit.
func startOps(t *testing.T) *berthEnv {
	e := newBerthEnv(t)
	e.writeProject("ops", fmt.Sprintf(`services:
  web:
    image: %s/busybox:latest
    command: ["sh", "-c", "echo only-in-the-container > /secret; exec sleep 1000"]
    environment:
      GREETING: hello-from-compose
    mem_limit: 64m
`, e.registry))
	e.mustBerth("apply", "ops")
	e.eventually(30*time.Second, "ops/web to run", func() bool { return e.prop(opsWeb, "ActiveState") == "active" })
	e.eventually(10*time.Second, "the container to write /secret", func() bool {
		out, err := e.berth("exec", "ops/web", "cat", "/secret")
		return err == nil && strings.TrimSpace(out) == "only-in-the-container"
	})
	return e
}

// exitStatus is the exit status of a command e.berth ran.
func exitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestExec: berth exec runs a command in the running container with its
// environment, as another user, inside the unit's cgroup, with docker's
// exit statuses, and names the state of a service that is not running.
func TestExec(t *testing.T) {
	e := startOps(t)
	mainPID := e.mainPID(opsWeb)

	if _, err := os.Stat("/secret"); err == nil {
		t.Fatal("the host has /secret too; the test proves nothing")
	}
	out := e.mustBerth("exec", "-e", "EXTRA=from-exec", "web", "env")
	for _, want := range []string{"GREETING=hello-from-compose", "EXTRA=from-exec"} {
		if !strings.Contains(out, want) {
			t.Errorf("exec env lacks %s:\n%s", want, out)
		}
	}
	if out := e.mustBerth("exec", "-u", "1234:2345", "-w", "/tmp", "ops/web", "sh", "-c", "id -u; id -g; pwd"); strings.Fields(out)[0] != "1234" ||
		strings.Fields(out)[1] != "2345" || strings.Fields(out)[2] != "/tmp" {
		t.Errorf("exec -u 1234:2345 -w /tmp: got %q", out)
	}

	// CAP_SYS_ADMIN (bit 21) only with --privileged.
	capEff := func(args ...string) uint64 {
		out := e.mustBerth(append(append([]string{"exec"}, args...), "ops/web", "sh", "-c", "grep CapEff /proc/self/status")...)
		f := strings.Fields(out)
		n, err := strconv.ParseUint(f[len(f)-1], 16, 64)
		if err != nil {
			t.Fatalf("CapEff: %q", out)
		}
		return n
	}
	if plain, priv := capEff(), capEff("--privileged"); plain&(1<<21) != 0 || priv&(1<<21) == 0 {
		t.Errorf("CapEff %x without and %x with --privileged: want CAP_SYS_ADMIN only with it", plain, priv)
	}

	berth := "env " + e.bin + " --config-dir " + e.config + " --state-dir " + e.state
	if out := e.sh("echo piped-in | " + berth + " exec -i ops/web cat"); out != "piped-in" {
		t.Errorf("exec -i did not forward stdin: %q", out)
	}
	if out := e.sh("echo piped-in | " + berth + " exec ops/web cat"); out != "" {
		t.Errorf("exec without -i forwarded stdin: %q", out)
	}

	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"sh", "-c", "exit 7"}, 7},
		{[]string{"no-such-command"}, 127},
		{[]string{"/secret"}, 126}, // not executable
		{[]string{"true"}, 0},
	} {
		out, err := e.berth(append([]string{"exec", "ops/web"}, c.args...)...)
		if got := exitStatus(err); got != c.code {
			t.Errorf("exec %v: exit %d, want %d\n%s", c.args, got, c.code, out)
		}
	}

	// A long exec: it is in the unit's cgroup, systemctl status lists it,
	// and the container's PID 1 stays the unit's main process.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	long := e.sb.Command(ctx, "env", e.bin, "--config-dir", e.config, "--state-dir", e.state, "exec", "ops/web", "sleep", "4242")
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = long.Process.Kill(); _ = long.Wait() }()
	var pid string
	e.eventually(10*time.Second, "the exec'd sleep to start", func() bool {
		pid = e.sh("pgrep -f '^sleep 4242$' || true")
		return pid != ""
	})
	cg := e.sh("cat /proc/" + pid + "/cgroup")
	unitCg := e.prop(opsWeb, "ControlGroup")
	if !strings.Contains(cg, unitCg+"/") {
		t.Errorf("exec'd process is not in the unit's cgroup %s:\n%s", unitCg, cg)
	}
	if st := e.sh("systemctl status --no-pager " + opsWeb + " || true"); !strings.Contains(st, "sleep 4242") {
		t.Errorf("systemctl status does not list the exec'd process:\n%s", st)
	}
	if got := e.mainPID(opsWeb); got != mainPID {
		t.Errorf("main PID changed from %d to %d", mainPID, got)
	}

	e.mustBerth("stop", "ops/web")
	out, err := e.berth("exec", "ops/web", "true")
	if want := "ops/web is not running (inactive); start it with berth start ops/web"; err == nil || !strings.Contains(out, want) {
		t.Errorf("exec into a stopped service: %v\n%s\nwant %q", err, out, want)
	}
}

// TestExecTTY drives `berth exec -it` through a real pty pair: the shell
// in the container has a terminal of the caller's size, follows a resize,
// reads what is typed and its exit status comes back.
func TestExecTTY(t *testing.T) {
	e := startOps(t)
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := master.Resize(console.WinSize{Height: 31, Width: 101}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.sb.Command(ctx, "env", e.bin, "--config-dir", e.config, "--state-dir", e.state, "exec", "-it", "ops/web", "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	seen := func(s string) bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(screen.String(), s) }
	await := func(s string) {
		t.Helper()
		e.eventually(15*time.Second, fmt.Sprintf("%q on the terminal", s), func() bool { return seen(s) })
	}
	type_ := func(s string) {
		if _, err := master.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	type_("stty size; tty; echo $((6*7))x\r")
	await("31 101")
	await("/dev/pts/")
	await("42x")
	if err := master.Resize(console.WinSize{Height: 42, Width: 132}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // SIGWINCH reaches berth
	type_("stty size\r")
	await("42 132")
	type_("exit 5\r")
	err = cmd.Wait()
	mu.Lock()
	t.Logf("terminal:\n%s", screen.String())
	mu.Unlock()
	if got := exitStatus(err); got != 5 {
		t.Errorf("exec -it exit status %d, want 5 (%v)", got, err)
	}
}
