package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Where a notify container finds berth's socket (podman's path).
const (
	containerNotifyDir    = "/run/notify"
	containerNotifySocket = containerNotifyDir + "/notify.sock"
)

// notifyProxy is the launcher's own notify socket for a container that
// reports readiness itself (x-berth notify: true). Binding systemd's
// socket straight into the container would lose READY=1 from short-lived
// senders (systemd 252 cannot attribute a message whose sender already
// exited), and READY=1 must end the launcher anyway.
type notifyProxy struct {
	dir  string // host dir bind-mounted at /run/notify
	path string // host path of the socket
	conn *net.UnixConn
}

// newNotifyProxy binds the socket under the container's run dir; the
// directory and the socket are open to every user, since the container's
// process may run as any uid.
func newNotifyProxy(l layout) (*notifyProxy, error) {
	dir := filepath.Join(l.runDir, "notify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating notify dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "notify.sock")
	_ = os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("binding notify socket: %w", err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		conn.Close()
		return nil, err
	}
	return &notifyProxy{dir: dir, path: path, conn: conn}, nil
}

// addToSpec mounts the socket's directory into the container and points
// NOTIFY_SOCKET at it.
func (n *notifyProxy) addToSpec(s *specs.Spec) {
	s.Mounts = append(s.Mounts, specs.Mount{
		Destination: containerNotifyDir,
		Type:        "bind",
		Source:      n.dir,
		Options:     []string{"bind", "nosuid", "nodev", "noexec"},
	})
	s.Process.Env = append(s.Process.Env, "NOTIFY_SOCKET="+containerNotifySocket)
}

// waitReady reads notifications until READY=1. STATUS= lines are logged.
// It fails when the container's PID 1 exits first; the unit's
// TimeoutStartSec (systemd kills the launcher) bounds the wait otherwise.
func (n *notifyProxy) waitReady(ctx context.Context, pid int, log *slog.Logger) error {
	buf := make([]byte, 4096)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for READY=1 from the container: %w", err)
		}
		if !alive(pid) {
			return errors.New("container exited before it sent READY=1")
		}
		_ = n.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		k, _, err := n.conn.ReadFromUnix(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading notify socket: %w", err)
		}
		for _, line := range strings.Split(string(buf[:k]), "\n") {
			switch {
			case line == "READY=1":
				return nil
			case strings.HasPrefix(line, "STATUS="):
				log.Info("container status", "status", strings.TrimPrefix(line, "STATUS="))
			}
		}
	}
}

// handOver closes berth's socket, as the launcher is about to exit, and
// puts a hard link to systemd's own notify socket (the launcher's
// $NOTIFY_SOCKET, given because the unit has NotifyAccess=all) in its
// place: later STATUS=, WATCHDOG=1 or STOPPING=1 from the container reach
// systemd directly, from a process inside the unit's cgroup. When that is
// impossible (abstract socket, another filesystem), later messages are
// refused (ECONNREFUSED) and the reason is logged.
func (n *notifyProxy) handOver(systemdSocket string, log *slog.Logger) {
	n.conn.Close()
	_ = os.Remove(n.path)
	if systemdSocket == "" || systemdSocket[0] == '@' {
		log.Info("notifications after READY=1 are not forwarded", "reason", "no path-based NOTIFY_SOCKET")
		return
	}
	tmp := n.path + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Link(systemdSocket, tmp); err != nil {
		log.Warn("notifications after READY=1 are not forwarded", "err", err)
		return
	}
	if err := os.Rename(tmp, n.path); err != nil {
		_ = os.Remove(tmp)
		log.Warn("notifications after READY=1 are not forwarded", "err", err)
	}
}

// close releases the socket after a failed start.
func (n *notifyProxy) close() {
	n.conn.Close()
	_ = os.Remove(n.path)
}
