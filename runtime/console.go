package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer/utils"
)

// Console is the pty master of a container process with a terminal
// (exec -t, run -t), held by the berth process the user is attached to:
// what is typed goes in, the process's output comes out.
type Console struct {
	c      console.Console
	copies sync.WaitGroup
}

// AttachConsole takes master, the pty libcontainer made inside the
// container and sent over its console socket, copies in (when not nil)
// to it and its output to out.
func AttachConsole(master *os.File, in io.Reader, out io.Writer) (*Console, error) {
	c, err := console.ConsoleFromFile(master)
	if err == nil {
		err = console.ClearONLCR(c.Fd())
	}
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("attaching the container's pty: %w", err)
	}
	k := &Console{c: c}
	if in != nil {
		go func() { _, _ = io.Copy(c, in) }()
	}
	k.copies.Add(1)
	go func() {
		defer k.copies.Done()
		// The pty reports EIO once the process and its children closed it.
		_, _ = io.Copy(out, c)
	}()
	return k, nil
}

// Resize sets the pty's window size, as SIGWINCH asks.
func (k *Console) Resize(width, height uint16) error {
	return k.c.Resize(console.WinSize{Width: width, Height: height})
}

// Close waits until the container's side of the pty is closed and all its
// output copied, then closes the master.
func (k *Console) Close() error {
	k.copies.Wait()
	return k.c.Close()
}

// ConsoleListener is the socket a one-off's launcher connects to as
// libcontainer's console socket (run --console-socket): the container's
// init sends its pty master over it, as with runc --console-socket.
type ConsoleListener struct {
	l    *net.UnixListener
	path string
}

// ListenConsole listens on path, in a directory only root may enter.
func ListenConsole(path string) (*ConsoleListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	_ = os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening for the one-off's pty: %w", err)
	}
	return &ConsoleListener{l: l, path: path}, nil
}

// Accept waits for the launcher's connection and receives the pty master.
func (cl *ConsoleListener) Accept(ctx context.Context) (*os.File, error) {
	stop := context.AfterFunc(ctx, func() { cl.l.Close() })
	defer stop()
	conn, err := cl.l.AcceptUnix()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("waiting for the one-off's pty: %w", err)
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	master, err := utils.RecvFile(f)
	if err != nil {
		return nil, fmt.Errorf("receiving the one-off's pty: %w", err)
	}
	return master, nil
}

// Close stops listening and removes the socket.
func (cl *ConsoleListener) Close() error {
	err := cl.l.Close()
	if rerr := os.Remove(cl.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// dialConsole connects to a ConsoleListener's socket; the file goes to
// libcontainer as Process.ConsoleSocket.
func dialConsole(path string) (*os.File, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("connecting to berth run's console socket: %w", err)
	}
	defer conn.Close()
	return conn.File()
}
