package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
)

// TestRunTTY drives `berth run` through a real pty pair, as a user's
// terminal: with stdin and stdout a terminal it gets a pty by default (as
// docker compose run), of the caller's size, following a resize; what is
// typed reaches the shell, its exit status comes back, and nothing is
// left. With -T it gets none.
func TestRunTTY(t *testing.T) {
	e := startAtt(t)
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := master.Resize(console.WinSize{Height: 33, Width: 99}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.sb.Command(ctx, "env", e.bin, "--config-dir", e.config, "--state-dir", e.state, "run", "att/tool", "sh")
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
		e.eventually(60*time.Second, fmt.Sprintf("%q on the terminal", s), func() bool { return seen(s) })
	}
	type_ := func(s string) {
		if _, err := master.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	// The shell starts once the one-off runs; until then keystrokes wait.
	type_("stty size; tty; echo $((6*7))x; echo $TERM\r")
	await("33 99")
	await("/dev/pts/")
	await("42x")
	await("xterm")
	if err := master.Resize(console.WinSize{Height: 44, Width: 123}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // SIGWINCH reaches berth
	type_("stty size\r")
	await("44 123")
	type_("exit 6\r")
	err = cmd.Wait()
	mu.Lock()
	t.Logf("terminal:\n%s", screen.String())
	mu.Unlock()
	if got := exitStatus(err); got != 6 {
		t.Errorf("run on a terminal: exit status %d, want 6 (%v)", got, err)
	}
	if left := e.runLeftovers("att"); left != "" {
		t.Errorf("the one-off left:\n%s", left)
	}
	if out := e.sh(e.berthCmd() + " run -t att/tool sh -c 'tty; echo t-done' </dev/null"); !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, "t-done") {
		t.Errorf("run -t without a terminal gives no pty:\n%s", out)
	}
	if out, _ := e.berth("run", "-T", "att/tool", "tty"); !strings.Contains(out, "not a tty") {
		t.Errorf("run -T gave a pty: %q", out)
	}
}

// TestRunPod: berth run runs a one-off of a Kubernetes pod's container,
// named POD/CONTAINER as berth exec names it: it has the container's env
// and volumes and shares the pod's localhost with the pod's containers;
// nothing is left and the pod's containers keep running.
func TestRunPod(t *testing.T) {
	e := newBerthEnv(t)
	e.kubeWrite("web", kubePodYAML)
	e.mustBerth("apply")
	for _, u := range []string{kubeMainUnit, kubeSidecarUnit} {
		e.eventually(30*time.Second, u+" to run", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	mainPID := e.mainPID(kubeMainUnit)
	var out string
	e.eventually(20*time.Second, "a one-off of web/sidecar to reach main's server over localhost", func() bool {
		out, _ = e.berth("run", "web/sidecar", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html")
		return strings.Contains(out, "hello-from-configmap")
	})
	out, err := e.berth("run", "web/main", "sh", "-c", "echo pw=$PASSWORD; cat /site/index.html; exit 4")
	if exitStatus(err) != 4 || !strings.Contains(out, "pw=s3cr3t-value") || !strings.Contains(out, "hello-from-configmap") {
		t.Errorf("run web/main: exit %d, want 4, with the container's env and volume:\n%s", exitStatus(err), out)
	}
	if left := e.runLeftovers("web"); left != "" {
		t.Errorf("the pod's one-offs left:\n%s", left)
	}
	if got := e.mainPID(kubeMainUnit); got != mainPID || e.prop(kubeSidecarUnit, "ActiveState") != "active" {
		t.Errorf("the pod's containers were disturbed: main PID %d → %d, sidecar %s", mainPID, got, e.prop(kubeSidecarUnit, "ActiveState"))
	}
}
