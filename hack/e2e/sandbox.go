package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// systemdBinary is the init the sandbox boots (Debian's systemd 252).
const systemdBinary = "/lib/systemd/systemd"

// bootTarget is the minimal target the sandbox boots: basic.target (whose
// host-changing dependencies are all masked) plus the system bus socket.
const bootTarget = "berth-e2e.target"

// bootTimeout bounds how long BootSystemd waits for "running"/"degraded".
const bootTimeout = 60 * time.Second

// stageScript runs as PID 1 of the new PID, mount, UTS and IPC namespaces.
// It moves itself into the sandbox's cgroup, makes every mount private,
// gives the sandbox fresh /proc and private tmpfs on /run, /tmp, /var/tmp and
// /etc/systemd/system, seeds /run (masks, journald drop-in, boot target),
// covers the host's /dev/console and /dev/kmsg with files in the work dir
// (systemd logs there before journald is up, and resets the console) and
// /dev/tty0 with /dev/null (PID 1 would claim the host's keyboard-request
// signal on it), and only then execs systemd. /run is shared, as a booted
// host's is (systemd skips that with container= set): systemd mounts a
// unit's credentials in a child mount namespace and they must propagate. The order matters: systemd must never see
// the host's /tmp, or its tmpfiles logic would empty it.
const stageScript = `set -eu
for f in $BERTH_E2E_PROCS; do echo $$ > "$f"; done
mount --make-rprivate /
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mount --make-shared /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /etc/systemd/system
mount --bind "$BERTH_E2E_DIR/console" /dev/console
mount --bind "$BERTH_E2E_DIR/kmsg" /dev/kmsg
mount --bind /dev/null /dev/tty0
cp -a "$BERTH_E2E_SEED"/. /run/
unset BERTH_E2E_PROCS BERTH_E2E_SEED BERTH_E2E_DIR
exec ` + systemdBinary + ` --unit=` + bootTarget + ` --show-status=no
`

// Sandbox is a systemd booted as PID 1 of its own PID, mount, UTS and IPC
// namespaces. It shares the host's filesystem (except /run, /tmp, /var/tmp
// and /etc/systemd/system, which are private tmpfs), network namespace and
// cgroup trees (below its own cgroup). Commands run inside it with nsenter,
// so systemctl, journalctl, systemd-run and D-Bus clients talk to the
// sandbox's systemd.
type Sandbox struct {
	pid      int
	dir      string // host work dir holding the seed and systemd's output
	logPath  string
	cgroup   *sandboxCgroup
	pidNS    string // e.g. pid:[4026532301], to find leftover processes
	watchdog *watchdog
	netns    bool // the sandbox has its own network namespace
	done     chan struct{}
	exitErr  error
	// Boot is how long systemd took from exec to "running"/"degraded".
	Boot time.Duration
}

// SandboxOption changes how BootSystemd prepares the sandbox.
type SandboxOption func(*sandboxConfig)

type sandboxConfig struct {
	allowed []string
	netns   bool     // own network namespace (see WithNetNS)
	forward []string // loopback addresses forwarded into it
}

// AllowUnits leaves the named installed units unmasked (by default every
// installed unit except journald and dbus is masked).
func AllowUnits(names ...string) SandboxOption {
	return func(c *sandboxConfig) { c.allowed = append(c.allowed, names...) }
}

var sandboxSeq atomic.Int64

// BootSystemd boots a sandboxed systemd and waits until it reports
// running or degraded, failing the test (never skipping it) on any problem.
// A marker file with an old mtime is placed in the host's /tmp before boot
// and must survive it. At cleanup systemd is SIGKILLed from outside, which
// kills every process of its PID namespace, and its cgroups are removed.
func BootSystemd(t testing.TB, opts ...SandboxOption) *Sandbox {
	t.Helper()
	requireRoot(t)
	var cfg sandboxConfig
	for _, o := range opts {
		o(&cfg)
	}
	for _, bin := range []string{systemdBinary, "nsenter", "mount", "cp"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("the sandbox needs %s: %v", bin, err)
		}
	}
	dir := WorkDir(t)
	seed := filepath.Join(dir, "run")
	if err := writeSeed(seed, cfg.allowed); err != nil {
		t.Fatal(err)
	}
	marker := hostTmpMarker(t)

	cg, err := newSandboxCgroup(fmt.Sprintf("berth-e2e-%d-%d", os.Getpid(), sandboxSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	s := &Sandbox{dir: dir, logPath: filepath.Join(dir, "systemd.log"), cgroup: cg, done: make(chan struct{})}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		_ = cg.remove(time.Second)
		t.Fatalf("creating systemd log: %v", err)
	}
	defer logFile.Close()
	for _, f := range []string{"console", "kmsg"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			_ = cg.remove(time.Second)
			t.Fatalf("creating sandbox %s file: %v", f, err)
		}
	}

	cmd := exec.Command("/bin/sh", "-c", stageScript)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = []string{
		"container=other",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"BERTH_E2E_SEED=" + seed,
		"BERTH_E2E_DIR=" + dir,
		"BERTH_E2E_PROCS=" + strings.Join(cg.procsFiles(), " "),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Setsid:     true,
	}
	if cfg.netns {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
		s.netns = true
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		_ = cg.remove(time.Second)
		t.Fatalf("starting sandboxed systemd: %v", err)
	}
	s.pid = cmd.Process.Pid
	s.pidNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", s.pid))
	// If the test binary dies, the watchdog kills the sandbox.
	s.watchdog, err = startWatchdog(s.pid)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = cg.remove(5 * time.Second)
		t.Fatal(err)
	}
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("stopping sandbox: %v", err)
		}
		checkMarker(t, marker)
	})

	if err := s.waitRunning(bootTimeout); err != nil {
		t.Fatalf("sandboxed systemd did not boot: %v\n%s", err, s.Diagnose(context.Background()))
	}
	s.Boot = time.Since(start)
	if cfg.netns {
		if err := s.setupNetNS(t, cfg.forward); err != nil {
			t.Fatal(err)
		}
	}
	checkMarker(t, marker)
	t.Logf("sandboxed systemd (host pid %d, cgroup %s) booted in %v", s.pid, cg.rel, s.Boot.Round(time.Millisecond))
	return s
}

// PID is the host PID of the sandbox's systemd.
func (s *Sandbox) PID() int { return s.pid }

// Cgroup is the cgroup (relative to each hierarchy's mount) the sandbox's
// systemd uses as its root, e.g. /berth-e2e-1234-1. Unit ControlGroup
// properties start with it.
func (s *Sandbox) Cgroup() string { return s.cgroup.rel }

// Command returns a command that runs name inside the sandbox's namespaces
// (through nsenter, which forks into the PID namespace). Its environment is
// the caller's minus systemd's per-service variables, with pager and colours
// off. Cancelling ctx kills nsenter; a process it started inside dies with
// the sandbox at the latest.
func (s *Sandbox) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	nsArgs := []string{"--target", strconv.Itoa(s.pid), "--pid", "--mount", "--uts", "--ipc", "--", name}
	if s.netns {
		nsArgs = append([]string{"--net"}, nsArgs...)
	}
	cmd := exec.CommandContext(ctx, "nsenter", append(nsArgs, args...)...)
	cmd.Dir = "/"
	cmd.Env = sandboxEnv()
	return cmd
}

// Exec runs name inside the sandbox and returns its stdout; the error
// carries the exit status and stderr.
func (s *Sandbox) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := s.Command(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("running %s %s in the sandbox: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Diagnose returns what helps most when the sandbox misbehaves: failed
// units, the journal's tail and systemd's own console output.
func (s *Sandbox) Diagnose(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var b strings.Builder
	for _, c := range [][]string{
		{"systemctl", "--failed", "--no-pager"},
		{"systemctl", "list-jobs", "--no-pager"},
		{"journalctl", "--no-pager", "-n", "60"},
	} {
		out, err := s.Command(ctx, c[0], c[1:]...).CombinedOutput()
		fmt.Fprintf(&b, "--- %s (err=%v)\n%s\n", strings.Join(c, " "), err, out)
	}
	for _, f := range []string{s.logPath, filepath.Join(s.dir, "console"), filepath.Join(s.dir, "kmsg")} {
		log, _ := os.ReadFile(f)
		if len(log) > 8000 {
			log = log[len(log)-8000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", f, log)
	}
	return b.String()
}

func sandboxEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "INVOCATION_ID",
			"JOURNAL_STREAM", "DBUS_SYSTEM_BUS_ADDRESS", "SYSTEMD_PAGER", "SYSTEMD_COLORS", "PAGER":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "SYSTEMD_PAGER=cat", "PAGER=cat", "SYSTEMD_COLORS=0")
}

// waitRunning polls `systemctl is-system-running` until it says running or
// degraded; it fails early if systemd exits.
func (s *Sandbox) waitRunning(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last string
	for {
		select {
		case <-s.done:
			return fmt.Errorf("systemd exited during boot: %v", s.exitErr)
		default:
		}
		out, _ := s.Command(ctx, "systemctl", "is-system-running").Output()
		last = strings.TrimSpace(string(out))
		switch last {
		case "running", "degraded":
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still %q after %v", last, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop SIGKILLs systemd from outside through the watchdog (the kernel then
// kills every process of its PID namespace), waits for it, checks that no
// process of the namespace is left and removes the sandbox's cgroups.
func (s *Sandbox) stop() error {
	var errs []error
	if err := s.watchdog.fire(10 * time.Second); err != nil {
		errs = append(errs, err)
		if err := syscall.Kill(s.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("killing systemd %d: %w", s.pid, err))
		}
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		errs = append(errs, fmt.Errorf("systemd %d did not exit within 30s of SIGKILL", s.pid))
	}
	if left := processesInNS(s.pidNS); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes left in the sandbox's PID namespace: %v", left))
	}
	if err := s.cgroup.remove(10 * time.Second); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// processesInNS lists host PIDs whose PID namespace is ns.
func processesInNS(ns string) []int {
	if ns == "" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && l == ns {
			out = append(out, pid)
		}
	}
	return out
}

// writeSeed fills dir with what the stage copies into the sandbox's /run:
// a /dev/null mask for every unit that could change the host, the boot
// target, a journald drop-in keeping the journal in memory, and a drop-in
// that stops the /dev/log socket from symlinking into the host's /dev.
func writeSeed(dir string, allowed []string) error {
	sys := filepath.Join(dir, "systemd", "system")
	jconf := filepath.Join(dir, "systemd", "journald.conf.d")
	for _, d := range []string{sys, jconf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating seed dir: %w", err)
		}
	}
	masks, err := unitsToMask(allowed)
	if err != nil {
		return err
	}
	for _, u := range masks {
		if err := os.Symlink("/dev/null", filepath.Join(sys, u)); err != nil {
			return fmt.Errorf("masking %s: %w", u, err)
		}
	}
	files := map[string]string{
		filepath.Join(sys, bootTarget): `[Unit]
Description=berth e2e sandbox
Requires=basic.target
Wants=dbus.socket systemd-journald.socket
After=basic.target dbus.socket
AllowIsolate=yes
`,
		// The socket would create /dev/log on the host's shared devtmpfs.
		filepath.Join(sys, "systemd-journald-dev-log.socket.d", "berth-e2e.conf"): `[Socket]
Symlinks=
`,
		filepath.Join(jconf, "zz-berth-e2e.conf"): `[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
`,
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("creating seed dir: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing seed file: %w", err)
		}
	}
	return nil
}

// hostTmpMarker creates a file in the host's /tmp whose mtime is a year
// old, so a tmpfiles cleanup leaking out of the sandbox would delete it.
func hostTmpMarker(t testing.TB) string {
	t.Helper()
	f, err := os.CreateTemp("/tmp", "berth-e2e-marker-")
	if err != nil {
		t.Fatalf("creating host /tmp marker: %v", err)
	}
	f.Close()
	old := time.Now().AddDate(-1, 0, 0)
	if err := os.Chtimes(f.Name(), old, old); err != nil {
		t.Fatalf("ageing host /tmp marker: %v", err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	return f.Name()
}

func checkMarker(t testing.TB, marker string) {
	t.Helper()
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("HOST /tmp WAS TOUCHED: marker %s is gone: %v", marker, err)
	}
}
