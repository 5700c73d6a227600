package launch

import (
	"context"
	"os"
	"os/signal"
	"sync"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// Attached is the caller's side of a command berth runs in a container and
// stays attached to (exec, run): the caller's terminal when the command
// has a pty, and the signals that end the session.
type Attached struct {
	term console.Console // nil: no pty, or stdin is not a terminal

	mu  sync.Mutex
	sig unix.Signal
}

// Attach takes the caller's terminal from in when tty is set and in is
// one.
func Attach(in *os.File, tty bool) *Attached {
	a := &Attached{}
	if tty && in != nil {
		if c, err := console.ConsoleFromFile(in); err == nil {
			a.term = c
		}
	}
	return a
}

// Size is the caller's terminal size, 0×0 without one.
func (a *Attached) Size() (width, height uint16) {
	if a.term == nil {
		return 0, 0
	}
	ws, err := a.term.Size()
	if err != nil {
		return 0, 0
	}
	return ws.Width, ws.Height
}

// Raw puts the caller's terminal in raw mode (keys, Ctrl-C included, go to
// the container's pty) until the returned func restores it.
func (a *Attached) Raw() (restore func()) {
	if a.term == nil || a.term.SetRaw() != nil {
		return func() {}
	}
	return func() { _ = a.term.Reset() }
}

// Relay passes the caller's window size to resize on SIGWINCH (when there
// is a terminal and resize is not nil) and calls interrupt with SIGINT,
// SIGTERM, SIGHUP and SIGQUIT, which it records for ExitCode. stop ends
// the relay.
func (a *Attached) Relay(resize func(width, height uint16) error, interrupt func(unix.Signal)) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, unix.SIGWINCH, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				sig := s.(unix.Signal)
				if sig != unix.SIGWINCH {
					a.mu.Lock()
					a.sig = sig
					a.mu.Unlock()
					interrupt(sig)
				} else if resize != nil && a.term != nil {
					if w, h := a.Size(); w > 0 {
						_ = resize(w, h)
					}
				}
			}
		}
	}()
	return func() { signal.Stop(ch); cancel(); <-done }
}

// ExitCode is the exit status of a session that ended with status code:
// 128+N when signal N interrupted it (130 for SIGINT, 143 for SIGTERM), as a
// shell reports a child that signal ended, else code.
func (a *Attached) ExitCode(code int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sig != 0 {
		return 128 + int(a.sig)
	}
	return code
}
