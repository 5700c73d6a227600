package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// watchdogScript SIGKILLs $PID once its stdin reaches EOF, if $PID is still
// the process started at $START (so a reused PID is never hit).
const watchdogScript = `read _ || true
st=$(sed 's/^.*) //' /proc/$PID/stat 2>/dev/null | cut -d' ' -f20)
[ "$st" = "$START" ] && kill -KILL "$PID"
exit 0
`

// watchdog kills one process when the test binary lets go of it: a small
// shell blocked reading a pipe whose only write end the test binary holds.
// Closing it (at cleanup), or the test binary dying in any way, kills the
// process. PR_SET_PDEATHSIG is not used because it fires when the forking
// OS thread exits, and tests that lock a thread to enter a network
// namespace make the Go runtime end such threads mid-test.
type watchdog struct {
	w    *os.File
	done chan struct{}
}

func startWatchdog(pid int) (*watchdog, error) {
	start, err := procStartTime(pid)
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating watchdog pipe: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript)
	cmd.Stdin = r
	cmd.Env = []string{"PATH=/usr/bin:/bin", "PID=" + strconv.Itoa(pid), "START=" + start}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting watchdog for pid %d: %w", pid, err)
	}
	wd := &watchdog{w: w, done: make(chan struct{})}
	go func() { cmd.Wait(); close(wd.done) }()
	return wd, nil
}

// fire makes the watchdog kill its process and waits for it to finish.
func (wd *watchdog) fire(timeout time.Duration) error {
	wd.w.Close()
	select {
	case <-wd.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("watchdog did not finish within %v", timeout)
	}
}

// procStartTime is field 22 of /proc/PID/stat, the start time in ticks.
func procStartTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", fmt.Errorf("reading start time of pid %d: %w", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("parsing /proc/%d/stat: %q", pid, s)
	}
	return f[19], nil
}
