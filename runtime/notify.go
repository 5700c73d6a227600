package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// notifyTimeout bounds how long the launcher waits for systemd to confirm it
// processed the notification (the barrier).
const notifyTimeout = 10 * time.Second

// notifyReady tells the service manager on socket (the value of
// $NOTIFY_SOCKET; empty means nobody listens, and nothing is sent) that the
// unit is ready and that pid, the container's PID 1, is its main process.
//
// It then waits on a barrier (BARRIER=1 with a pipe's write end, as
// sd_notify_barrier(3) does): the sender must outlive systemd's processing of
// the message, because systemd 252 ignores messages from a PID that already
// exited ("Cannot find unit for notify message of PID").
func notifyReady(socket string, pid int) error {
	if socket == "" {
		return nil
	}
	conn, err := dialNotify(socket)
	if err != nil {
		return err
	}
	defer conn.Close()

	msg := "READY=1\nMAINPID=" + strconv.Itoa(pid)
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sending %q to %s: %w", msg, socket, err)
	}
	if err := notifyBarrier(conn, notifyTimeout); err != nil {
		return fmt.Errorf("waiting for the service manager to take READY=1: %w", err)
	}
	return nil
}

// dialNotify connects to a notify socket; a leading '@' names an abstract
// socket as in sd_notify(3).
func dialNotify(socket string) (*net.UnixConn, error) {
	name := socket
	if name[0] == '@' {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("connecting to notify socket %s: %w", socket, err)
	}
	return conn, nil
}

// notifyBarrier sends BARRIER=1 with the write end of a fresh pipe and waits
// until the receiver closes its copy: the manager has then handled every
// earlier message from this sender.
func notifyBarrier(conn *net.UnixConn, timeout time.Duration) error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("creating barrier pipe: %w", err)
	}
	r := os.NewFile(uintptr(p[0]), "barrier-r")
	w := os.NewFile(uintptr(p[1]), "barrier-w")
	defer r.Close()

	err := sendWithFd(conn, []byte("BARRIER=1"), p[1])
	w.Close() // the receiver's copy is the only one left
	if err != nil {
		return fmt.Errorf("sending BARRIER=1: %w", err)
	}

	fds := []unix.PollFd{{Fd: int32(p[0]), Events: unix.POLLIN}}
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errors.New("no answer to BARRIER=1 within " + timeout.String())
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("polling barrier pipe: %w", err)
		}
		if n > 0 && fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
			return nil
		}
	}
}

// sendWithFd sends msg with fd attached (SCM_RIGHTS) on the connected socket.
func sendWithFd(conn *net.UnixConn, msg []byte, fd int) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	err = raw.Write(func(s uintptr) bool {
		sendErr = unix.Sendmsg(int(s), msg, unix.UnixRights(fd), nil, 0)
		return !errors.Is(sendErr, unix.EAGAIN)
	})
	if err != nil {
		return err
	}
	return sendErr
}
