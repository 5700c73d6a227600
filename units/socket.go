package units

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// SocketName is the .socket unit of a socket-activated service.
func SocketName(project, service string) string {
	return Prefix + escape(project) + "-" + escape(service) + ".socket"
}

// socket builds the .socket unit that owns svc's listeners. It has the
// service's name, so systemd starts that service on the first connection
// and passes it the fds (LISTEN_FDS on the launcher, which hands them on
// to the container as fds 3..). PartOf= the service: stopping or
// restarting the service (berth down, recreate) does the same to the
// socket, so nothing listens for a service berth removed.
func socket(svc *model.Service) (*Unit, error) {
	u := &Unit{Name: SocketName(svc.Project, svc.Name)}
	u.add("Unit", "Description", printf(fmt.Sprintf("berth %s/%s sockets", svc.Project, svc.Name)))
	u.add("Unit", "PartOf", Name(svc.Project, svc.Name))
	names := map[string]bool{}
	for i, s := range svc.Sockets {
		kind, addr, err := ParseListen(s.Listen)
		if err != nil {
			return nil, fmt.Errorf("x-berth.sockets[%d]: %w", i, err)
		}
		u.add("Socket", kind, printf(addr))
		names[s.Name] = true
	}
	// One FileDescriptorName covers every fd of a .socket unit; the
	// launcher sets LISTEN_FDNAMES per socket from the model anyway, so the
	// unit carries a name only when they all agree.
	if len(names) == 1 {
		for n := range names {
			if n != "" {
				u.add("Socket", "FileDescriptorName", printf(n))
			}
		}
	}
	return u, nil
}

// ParseListen turns an x-berth socket address into a .socket option:
// "[host:]port" is ListenStream, "udp:[host:]port" ListenDatagram, and an
// absolute path a unix stream socket.
func ParseListen(listen string) (kind, addr string, err error) {
	kind, rest := "ListenStream", listen
	if r, ok := strings.CutPrefix(listen, "udp:"); ok {
		kind, rest = "ListenDatagram", r
	} else if r, ok := strings.CutPrefix(listen, "tcp:"); ok {
		rest = r
	}
	if strings.HasPrefix(rest, "/") {
		if filepath.Clean(rest) != rest {
			return "", "", fmt.Errorf("listen %q: unix socket path is not clean", listen)
		}
		return kind, rest, nil
	}
	port := rest
	if h, p, err := net.SplitHostPort(rest); err == nil {
		if h != "" && net.ParseIP(h) == nil {
			return "", "", fmt.Errorf("listen %q: host must be an IP address", listen)
		}
		port = p
	} else if strings.Contains(rest, ":") {
		return "", "", fmt.Errorf("listen %q: want [host:]port, udp:[host:]port or an absolute path", listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("listen %q: invalid port %q", listen, port)
	}
	return kind, rest, nil
}
