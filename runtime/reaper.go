package runtime

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// ReaperCommand is the argument (os.Args[1]) under which cmd/berth must call
// Reaper: with init: true the berth binary is bind-mounted read-only into the
// container at /.berth/init and runs as PID 1 as
// "/.berth/init init-reaper -- CMD ARGS...".
const ReaperCommand = "init-reaper"

// Reaper is a minimal init for containers (init: true): it starts args (an
// optional leading "--" is dropped), forwards every signal it gets to that
// child, reaps every zombie re-parented to it, and returns the child's exit
// status (128+N when a signal N killed it) for the caller to os.Exit with.
func Reaper(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "berth init: no command given")
		return 127
	}
	// Orphans of the child must come to us even when we are not PID 1.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs) // every signal, forwarded below

	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth init: %v\n", err)
		return 127
	}
	child, err := os.StartProcess(path, args, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth init: starting %s: %v\n", args[0], err)
		return 126
	}
	pid := child.Pid

	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			if code, done := reapAll(pid); done {
				return code
			}
		case syscall.SIGURG: // the Go runtime's preemption signal
		default:
			_ = unix.Kill(pid, sig.(syscall.Signal))
		}
	}
	return 0
}

// reapAll collects every exited child without blocking and reports the exit
// code once the main child pid is among them.
func reapAll(pid int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || got <= 0 {
			return code, done
		}
		if got == pid {
			done = true
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
}

// initBinary is a static init program on the host, bind-mounted into the
// container, and the arguments that go before the service's command.
type initBinary struct {
	path string
	args []string
}

// catatonitPaths are where Debian's and Fedora's podman install catatonit,
// a static init used when the berth binary itself cannot run in the image.
var catatonitPaths = []string{"/usr/libexec/podman/catatonit", "/usr/bin/catatonit"}

// findInit picks the init for init: true. The berth binary itself (running
// Reaper) only works inside an arbitrary image when it is statically linked:
// a cgo build needs the host's libc and libseccomp, which the image lacks.
// Otherwise catatonit is used when installed.
func findInit() (*initBinary, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err == nil && isStatic(self) {
		return &initBinary{path: self, args: []string{ReaperCommand, "--"}}, nil
	}
	for _, p := range catatonitPaths {
		if isStatic(p) {
			return &initBinary{path: p, args: []string{"--"}}, nil
		}
	}
	return nil, errors.New("init: true needs a statically linked berth binary or catatonit (/usr/libexec/podman/catatonit)")
}

// isStatic reports whether path is an ELF executable without an interpreter
// (no dynamic loader needed).
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
