package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/image"
)

// dockerCapBnd is CapBnd of a docker container with the default
// capability set (bits 0,1,3-8,10,13,18,27,29,31).
const dockerCapBnd = "00000000a80425fb"

func TestRunStartsContainerAndCleanupRemovesEverything(t *testing.T) {
	e := newRunEnv(t)
	opts, notes, out, stdout := e.opts, e.notes, e.out, e.outPath
	unit, err := unitCgroup()
	if err != nil {
		t.Fatal(err)
	}

	svc := &model.Service{Project: "berthtest", Name: "hello", Image: "test/busybox",
		Command: []string{"sh", "-c", "echo hello; sleep 30"}}
	id := svc.ID()
	if err := run(context.Background(), opts, svc, testDeps(t, busyboxRootfs(t), out)); err != nil {
		t.Fatalf("run: %v", err)
	}
	pid := 0
	t.Cleanup(func() { cleanupAfterFailure(t, opts, id); reap(pid) })

	msg := notes.next(t)
	if !strings.Contains(msg, "READY=1") {
		t.Fatalf("notify message %q lacks READY=1", msg)
	}
	for _, line := range strings.Split(msg, "\n") {
		if v, ok := strings.CutPrefix(line, "MAINPID="); ok {
			pid, _ = strconv.Atoi(v)
		}
	}
	if pid <= 0 {
		t.Fatalf("notify message %q lacks MAINPID", msg)
	}
	if barrier := notes.next(t); barrier != "BARRIER=1" {
		t.Fatalf("second notify message = %q, want BARRIER=1", barrier)
	}
	st, err := ReadState(opts.RunDir, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pid != pid || st.Image != "test/busybox" || st.Digest != "sha256:test" || st.Started.IsZero() {
		t.Fatalf("state = %+v, want pid %d, image and digest", st, pid)
	}

	status := procStatus(t, pid)
	if got := status["NSpid"]; !strings.HasSuffix(got, "\t1") || !strings.HasPrefix(got, strconv.Itoa(pid)+"\t") {
		t.Fatalf("NSpid = %q, want %d<TAB>1 (PID 1 in its own pid namespace)", got, pid)
	}
	if got := status["CapBnd"]; got != dockerCapBnd {
		t.Fatalf("CapBnd = %s, want docker's default %s", got, dockerCapBnd)
	}
	if got := status["Seccomp"]; got != "2" {
		t.Fatalf("Seccomp = %s, want 2 (filter)", got)
	}

	// Every hierarchy mounted here (those libcontainer uses) puts the
	// container at <unit cgroup>/<id>. Hierarchies mounted only in other
	// mount namespaces (other tests on the host) are not ours to check.
	mounted := mountedControllers(t)
	want := filepath.Join(unit, id)
	cgLines := readLines(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	t.Logf("container cgroups:\n%s", strings.Join(cgLines, "\n"))
	for _, line := range cgLines {
		parts := strings.SplitN(line, ":", 3)
		if !mounted[parts[1]] {
			continue
		}
		if parts[2] != want {
			t.Errorf("container cgroup %q, want %s (nested in the launcher's cgroup)", line, want)
		}
	}

	// Masked /proc paths read as /dev/null; this kernel may lack some of
	// them (no /proc/kcore without CONFIG_PROC_KCORE), so each one that
	// exists on the host is checked.
	checked := 0
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		checked++
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/root%s", pid, p), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
			t.Fatalf("%s in the container is not masked with /dev/null (mode %o rdev %d)", p, st.Mode, st.Rdev)
		}
	}
	if checked == 0 {
		t.Fatal("none of /proc/kcore, /proc/keys, /proc/timer_list exists on this host to check masking")
	}
	waitFor(t, "hello on the container's stdout", func() bool {
		b, _ := os.ReadFile(stdout)
		return string(b) == "hello\n"
	})

	if err := Cleanup(context.Background(), opts, id); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	reap(pid)
	if err := unix.Kill(pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("container pid %d still exists after Cleanup (kill 0: %v)", pid, err)
	}
	assertNothingLeft(t, opts, unit, id)
	if err := Cleanup(context.Background(), opts, id); err != nil {
		t.Fatalf("second Cleanup is not a no-op: %v", err)
	}
}

func TestRunWithInitReapsAndForwards(t *testing.T) {
	e := newRunEnv(t)
	opts, outPath := e.opts, e.outPath
	svc := &model.Service{Project: "berthtest", Name: "init", Image: "test/busybox", Init: true,
		Command: []string{"sleep", "30"}}
	st := e.start(t, svc, busyboxRootfs(t))
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(cmdline), initMountPoint+"\x00") {
		b, _ := os.ReadFile(outPath)
		var ws unix.WaitStatus
		got, werr := unix.Wait4(st.Pid, &ws, unix.WNOHANG, nil)
		t.Logf("wait4: %d %v exit=%d sig=%v", got, werr, ws.ExitStatus(), ws.Signal())
		t.Fatalf("PID 1 runs %q, want the init at %s; output:\n%s", cmdline, initMountPoint, b)
	}
	// Once the init has started its child it handles signals; a PID 1
	// without handlers would ignore SIGTERM.
	waitFor(t, "the init to start its child", func() bool {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", st.Pid, st.Pid))
		return len(strings.TrimSpace(string(b))) > 0
	})
	// SIGTERM to PID 1 reaches sleep through the init, which then exits.
	if err := unix.Kill(st.Pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "init to exit after SIGTERM", func() bool {
		var ws unix.WaitStatus
		got, _ := unix.Wait4(st.Pid, &ws, unix.WNOHANG, nil)
		return got == st.Pid
	})
	if err := Cleanup(context.Background(), opts, svc.ID()); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
}

func TestRunFailsClearlyAndLeavesNothing(t *testing.T) {
	requireRoot(t)
	enterTestCgroup(t)
	unit, err := unitCgroup()
	if err != nil {
		t.Fatal(err)
	}
	svc := &model.Service{Project: "berthtest", Name: "broken", Image: "127.0.0.1:1/missing:latest",
		Command: []string{"true"}}

	t.Run("image cannot be pulled", func(t *testing.T) {
		opts := testOptions(t)
		opts.Insecure = []string{"127.0.0.1:1"}
		err := Run(context.Background(), opts, svc)
		t.Logf("Run: %v", err)
		if err == nil || !strings.HasPrefix(err.Error(), "pulling 127.0.0.1:1/missing:latest: ") {
			t.Fatalf("Run = %v, want an error starting with \"pulling 127.0.0.1:1/missing:latest: \"", err)
		}
		if pe, ok := errors.AsType[*image.PullError](err); !ok || pe.Ref != "127.0.0.1:1/missing:latest" {
			t.Fatalf("Run = %#v, want an *image.PullError for 127.0.0.1:1/missing:latest", err)
		}
		assertNothingLeft(t, opts, unit, svc.ID())
	})
	t.Run("layer missing", func(t *testing.T) {
		opts := testOptions(t)
		d := testDeps(t, filepath.Join(t.TempDir(), "no-such-layer"), os.Stdout)
		err := run(context.Background(), opts, svc, d)
		t.Logf("run: %v", err)
		if err == nil || !strings.Contains(err.Error(), "mounting rootfs of 127.0.0.1:1/missing:latest") {
			t.Fatalf("run = %v, want a rootfs mount error", err)
		}
		assertNothingLeft(t, opts, unit, svc.ID())
	})
	t.Run("command not in image", func(t *testing.T) {
		opts := testOptions(t)
		bad := *svc
		bad.Command = []string{"/no/such/binary"}
		err := run(context.Background(), opts, &bad, testDeps(t, busyboxRootfs(t), os.Stdout))
		t.Logf("run: %v", err)
		if err == nil || !strings.Contains(err.Error(), "starting container") {
			t.Fatalf("run = %v, want a start error", err)
		}
		assertNothingLeft(t, opts, unit, svc.ID())
	})
}

func TestReaperForwardsSignalsAndExitCode(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := newCmd(self, ReaperCommand, "--", "/bin/busybox", "sh", "-c", "sleep 0.1 & trap 'exit 7' TERM; echo up; while :; do sleep 0.05; done")
	r, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(r).ReadString('\n'); line != "up\n" {
		t.Fatalf("child said %q", line)
	}
	time.Sleep(200 * time.Millisecond) // the orphaned sleep has exited and been reaped
	if err := cmd.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != 7 {
		t.Fatalf("reaper exited with %v, want the child's code 7", err)
	}
}

// --- helpers ---

// runEnv is what a test that starts a real container in process begins
// with: root, a cgroup of the test's own, options in temporary directories,
// a notify socket and a file that takes the container's output.
type runEnv struct {
	opts    Options
	notes   *notifyListener
	out     *os.File
	outPath string
}

func newRunEnv(t *testing.T) *runEnv {
	t.Helper()
	requireRoot(t)
	enterTestCgroup(t)
	e := &runEnv{opts: testOptions(t), notes: listenNotify(t), outPath: filepath.Join(t.TempDir(), "stdout")}
	out, err := os.Create(e.outPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	e.out = out
	return e
}

// start runs svc on the one-layer image layer, with its output to e.out,
// and returns its state; when the test ends the container is cleaned up
// (a no-op if the test did) and its init reaped.
func (e *runEnv) start(t *testing.T, svc *model.Service, layer string) *State {
	t.Helper()
	if err := run(context.Background(), e.opts, svc, testDeps(t, layer, e.out)); err != nil {
		t.Fatalf("run: %v", err)
	}
	st, err := ReadState(e.opts.RunDir, svc.ID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupAfterFailure(t, e.opts, svc.ID()); reap(st.Pid) })
	return st
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test starts real containers and must run as root (go test -tags seccomp ./runtime/ as root)")
	}
}

func testOptions(t *testing.T) Options {
	dir := t.TempDir()
	return Options{
		StateDir: filepath.Join(dir, "state"),
		RunDir:   filepath.Join(dir, "run"),
		Log:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// testDeps bypasses the registry: the "image" is one layer, dir.
func testDeps(t *testing.T, layer string, out *os.File) deps {
	return deps{
		ensure: func(ctx context.Context, o Options, ref string, _ model.PullPolicy) (*imageInfo, error) {
			return &imageInfo{Ref: ref, Digest: "sha256:test", Config: v1.Config{Cmd: []string{"sh"}}, Layers: []string{layer}}, nil
		},
		mount:   image.Mount,
		unmount: image.Unmount,
		stdout:  out,
		stderr:  out,
	}
}

// busyboxRootfs builds a minimal image rootfs from the host's static busybox.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	b, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("reading /bin/busybox (install busybox-static): %v", err)
	}
	if !isStatic("/bin/busybox") {
		t.Fatal("/bin/busybox is not statically linked: install busybox-static")
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"sh", "sleep", "echo", "cat", "true"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", app)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
	writeFile(t, filepath.Join(root, "etc/group"), "root:x:0:\n")
	return root
}

// enterTestCgroup puts the test process in a fresh cgroup of its own in the
// hierarchies systemd tracks units by (name=systemd and hybrid's unified;
// they carry no resource limits), standing in for a unit's cgroup, and
// moves it back at the end.
func enterTestCgroup(t *testing.T) {
	t.Helper()
	if cgroups.IsCgroup2UnifiedMode() {
		return // Run itself moves into a leaf; the test's own cgroup is the "unit".
	}
	name := fmt.Sprintf("berth-test-%d", os.Getpid())
	own, err := cgroups.ParseCgroupFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	hier := map[string]string{"/sys/fs/cgroup/systemd": own["name=systemd"]}
	if cgroups.IsCgroup2HybridMode() {
		hier["/sys/fs/cgroup/unified"] = own[""]
	}
	for mnt, orig := range hier {
		dir := filepath.Join(mnt, orig, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
		if err := cgroups.WriteCgroupProc(dir, os.Getpid()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := cgroups.WriteCgroupProc(filepath.Join(mnt, orig), os.Getpid()); err != nil {
				t.Errorf("moving test back to its cgroup: %v", err)
			}
			if err := os.Remove(dir); err != nil {
				t.Errorf("removing test cgroup: %v", err)
			}
		})
	}
}

func assertNothingLeft(t *testing.T, opts Options, unit, id string) {
	t.Helper()
	l, err := newLayout(opts, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{l.runDir, l.stateDir, l.libcontainerC} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left behind (%v)", p, err)
		}
	}
	for _, p := range []string{l.runParent, l.stateParent, l.libcontainer} {
		if ents, _ := os.ReadDir(p); len(ents) > 0 {
			t.Errorf("%s still holds %s", p, ents[0].Name())
		}
	}
	mounts, err := mountinfo.GetMounts(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if strings.HasPrefix(m.Mountpoint, opts.RunDir) || strings.HasPrefix(m.Mountpoint, opts.StateDir) {
			t.Errorf("mount %s is left behind", m.Mountpoint)
		}
		if (m.FSType == "cgroup" || m.FSType == "cgroup2") && m.Root == "/" {
			p := filepath.Join(m.Mountpoint, unit, id)
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cgroup %s is left behind", p)
			}
		}
	}
}

// mountedControllers are the /proc/PID/cgroup controller fields ("" for
// cgroup2, "name=systemd", "cpu,cpuacct", ...) of hierarchies mounted here.
func mountedControllers(t *testing.T) map[string]bool {
	t.Helper()
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (bool, bool) {
		return m.FSType != "cgroup" && m.FSType != "cgroup2", false
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := map[string]bool{}
	for _, m := range mounts {
		if m.FSType == "cgroup2" {
			opts[""] = true
		}
		for _, o := range strings.Split(m.VFSOptions, ",") {
			opts[o] = true
		}
	}
	got := map[string]bool{}
	for _, line := range readLines(t, "/proc/self/cgroup") {
		parts := strings.SplitN(line, ":", 3)
		all := true
		for _, c := range strings.Split(parts[1], ",") {
			all = all && opts[c]
		}
		got[parts[1]] = all
	}
	return got
}

type notifyListener struct{ msgs chan string }

// listenNotify serves a NOTIFY_SOCKET like systemd's: it records each
// datagram and closes any fds sent along (which answers BARRIER=1).
func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	n := &notifyListener{msgs: make(chan string, 16)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf, oob := make([]byte, 4096), make([]byte, 1024)
		for {
			nb, noob, _, _, err := conn.ReadMsgUnix(buf, oob)
			if err != nil {
				return
			}
			if cmsgs, err := unix.ParseSocketControlMessage(oob[:noob]); err == nil {
				for _, c := range cmsgs {
					fds, _ := unix.ParseUnixRights(&c)
					for _, fd := range fds {
						unix.Close(fd)
					}
				}
			}
			n.msgs <- string(buf[:nb])
		}
	}()
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	return n
}

func (n *notifyListener) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-n.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no notify message within 10s")
		return ""
	}
}

func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range readLines(t, fmt.Sprintf("/proc/%d/status", pid)) {
		k, v, _ := strings.Cut(line, ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cleanupAfterFailure runs Cleanup so a failed test leaves no container,
// mount or cgroup behind; after a passing test it is a no-op.
func cleanupAfterFailure(t *testing.T, opts Options, id string) {
	if err := Cleanup(context.Background(), opts, id); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
}

// reap collects the container's init: in a test the launcher does not exit,
// so the container's PID 1 stays its child.
func reap(pid int) {
	if pid <= 0 {
		return
	}
	_ = unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for range 200 {
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
