package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// Exit statuses of an exec whose command could not be run, as docker's.
const (
	ExitCannotInvoke = 126
	ExitNotFound     = 127
)

// ExecRequest is one process to run in a running container, with the
// flags of `docker exec`.
type ExecRequest struct {
	Args []string
	// User is "user[:group]" as a name or id inside the container; ""
	// is the container's configured user.
	User string
	// Cwd is the working directory; "" is PID 1's.
	Cwd string
	// Env (K=V) is added over PID 1's environment.
	Env        []string
	Privileged bool
	// TTY runs the process on a pty made inside the container; Stdout
	// gets its output and Stderr is unused.
	TTY bool
	// Stdin is forwarded when not nil; otherwise the process reads EOF.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Width and Height are the pty's first size (TTY only).
	Width, Height uint16
}

// ExecError is an exec whose command could not be started; Code is the
// exit status docker gives for it (126 or 127).
type ExecError struct {
	Code int
	Err  error
}

func (e *ExecError) Error() string { return e.Err.Error() }
func (e *ExecError) Unwrap() error { return e.Err }

// Execution is a started exec.
type Execution struct {
	p       *libcontainer.Process
	console *Console
}

// Exec starts req in container id through libcontainer, as `runc exec`
// does: the process joins the container's namespaces and cgroup (so it
// stays inside the unit's cgroup, under its limits, and is never the
// unit's main process) and gets its capabilities, seccomp profile and
// no_new_privileges. A container that is not running gives ErrNotRunning.
func Exec(ctx context.Context, opts Options, id string, req ExecRequest) (*Execution, error) {
	opts = opts.withDefaults()
	l, err := newLayout(opts, id)
	if err != nil {
		return nil, err
	}
	st, err := ReadState(opts.RunDir, id)
	if err != nil || !alive(st.Pid) {
		return nil, ErrNotRunning
	}
	c, err := libcontainer.Load(l.libcontainer, id)
	if err != nil {
		return nil, fmt.Errorf("loading container %s: %w", id, err)
	}
	p, err := execProcess(st, req)
	if err != nil {
		return nil, err
	}
	if err := checkCommand(containerRoot(st.Pid), p.Cwd, p.Env, req.Args[0]); err != nil {
		return nil, err
	}
	e := &Execution{p: p}
	if !req.TTY {
		return e, e.startPiped(c, req)
	}
	return e, e.startTTY(c, req)
}

// Running reports whether container id runs (its recorded PID 1 is alive).
func Running(opts Options, id string) bool {
	opts = opts.withDefaults()
	if _, err := newLayout(opts, id); err != nil {
		return false
	}
	st, err := ReadState(opts.RunDir, id)
	return err == nil && alive(st.Pid)
}

// containerRoot is the container's root as its own mount namespace sees
// it, volumes included.
func containerRoot(pid int) string { return fmt.Sprintf("/proc/%d/root", pid) }

func execProcess(st *State, req ExecRequest) (*libcontainer.Process, error) {
	if len(req.Args) == 0 {
		return nil, errors.New("no command given")
	}
	env, uid, gid := processIdentity(st.Pid)
	var groups []int
	if u := st.User; u != nil {
		uid, gid, groups = u.UID, u.GID, u.Groups
	}
	if req.User != "" {
		u, err := resolveUser(containerRoot(st.Pid), req.User)
		if err != nil {
			return nil, err
		}
		uid, gid, groups = u.Uid, u.Gid, u.Sgids
	}
	for _, kv := range req.Env {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("environment entry %q is not KEY=VALUE", kv)
		}
	}
	p := &libcontainer.Process{
		Args:             req.Args,
		Env:              mergeEnv(env, req.Env),
		Cwd:              req.Cwd,
		UID:              uid,
		GID:              gid,
		AdditionalGroups: groups,
		Init:             false,
	}
	if p.Cwd == "" {
		p.Cwd = processCwd(st.Pid)
	}
	if req.Privileged {
		caps, err := supportedCaps()
		if err != nil {
			return nil, err
		}
		p.Capabilities = &configs.Capabilities{Bounding: caps, Effective: caps, Permitted: caps}
		if uid == 0 {
			p.Capabilities.Inheritable, p.Capabilities.Ambient = caps, caps
		}
	}
	return p, nil
}

// mergeEnv is base with each of over replacing the entry of the same key.
func mergeEnv(base, over []string) []string {
	out := make([]string, 0, len(base)+len(over))
	keys := map[string]int{}
	for _, kv := range append(append([]string{}, base...), over...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := keys[k]; ok {
			out[i] = kv
			continue
		}
		keys[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// processCwd is PID 1's working directory inside the container (the
// kernel shows another mount namespace's paths relative to its root), "/"
// when it cannot be read.
func processCwd(pid int) string {
	d, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil || !strings.HasPrefix(d, "/") {
		return "/"
	}
	return d
}

func (e *Execution) startPiped(c *libcontainer.Container, req ExecRequest) error {
	e.p.Stdin, e.p.Stdout, e.p.Stderr = req.Stdin, req.Stdout, req.Stderr
	if err := c.Run(e.p); err != nil {
		return &ExecError{Code: ExitCannotInvoke, Err: fmt.Errorf("starting %s: %w", req.Args[0], err)}
	}
	return nil
}

// startTTY has libcontainer make the pty inside the container (its
// /dev/pts) and send the master back over a socket, as runc does.
func (e *Execution) startTTY(c *libcontainer.Container, req ExecRequest) error {
	parent, child, err := utils.NewSockPair("console")
	if err != nil {
		return err
	}
	defer parent.Close()
	e.p.ConsoleSocket = child
	e.p.ConsoleWidth, e.p.ConsoleHeight = req.Width, req.Height
	err = c.Run(e.p)
	child.Close()
	if err != nil {
		return &ExecError{Code: ExitCannotInvoke, Err: fmt.Errorf("starting %s: %w", req.Args[0], err)}
	}
	master, err := utils.RecvFile(parent)
	if err == nil {
		e.console, err = AttachConsole(master, req.Stdin, req.Stdout)
	}
	if err != nil {
		_ = e.p.Signal(unix.SIGKILL)
		_, _ = e.p.Wait()
		return fmt.Errorf("receiving the exec's pty: %w", err)
	}
	return nil
}

// Resize sets the pty's window size (TTY only), as SIGWINCH asks.
func (e *Execution) Resize(width, height uint16) error {
	if e.console == nil {
		return nil
	}
	return e.console.Resize(width, height)
}

// Signal sends sig to the exec'd process.
func (e *Execution) Signal(sig os.Signal) error { return e.p.Signal(sig) }

// Wait waits for the process and its output, and returns its exit status
// (128+n for a signal, as a shell reports it).
func (e *Execution) Wait() (int, error) {
	ps, err := e.p.Wait()
	if e.console != nil {
		e.console.Close()
	}
	if ps == nil {
		return -1, fmt.Errorf("waiting for the exec'd process: %w", err)
	}
	if ws, ok := ps.Sys().(unix.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}
