package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/compose/model"
)

// portClaim is one published host port of one container (or pod).
type portClaim struct {
	entry int // index in the entries
	id    string
	desc  string // service "web" of project "app" (file:line)
	port  model.Port
}

// clash reports whether a and b want the same host port: same protocol
// and port, and the same host address or either on all addresses.
func clash(a, b model.Port) bool {
	any := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return a.Protocol == b.Protocol && a.HostPort == b.HostPort && (a.HostIP == b.HostIP || any(a.HostIP) || any(b.HostIP))
}

func portString(p model.Port) string {
	host := p.HostIP
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, strconv.Itoa(int(p.HostPort))) + "/" + p.Protocol
}

// claimsOf lists the host ports the services of entries publish.
func claimsOf(entries []model.Entry) []portClaim {
	var out []portClaim
	for i, e := range entries {
		if e.Err != nil || e.Project == nil {
			continue
		}
		for _, s := range e.Project.Services {
			if s.NetworkMode != "" {
				continue
			}
			id := s.ID()
			if s.Pod != "" {
				id = PodID(s.PodKey())
			}
			desc := fmt.Sprintf("service %q of project %s", s.Name, e.Project.Name)
			if s.PortsAt != "" {
				desc += " (" + s.PortsAt + ")"
			}
			for _, pt := range s.Ports {
				out = append(out, portClaim{entry: i, id: id, desc: desc, port: pt})
			}
		}
	}
	return out
}

// checkPorts refuses, for the selected entries, a host port another
// service already publishes or a host process holds, naming both. Between
// two berth services the one that published it before (its member record
// says so) keeps it; between two new ones the first entry does. held
// lists the ports recorded per container id.
func checkPorts(entries []model.Entry, selected func(int) bool, held map[string][]string) {
	claims := claimsOf(entries)
	errs := map[int][]string{}
	for i, c := range claims {
		if !selected(c.entry) {
			continue
		}
		for j, o := range claims {
			if i == j || o.id == c.id || !clash(c.port, o.port) {
				continue
			}
			// o keeps the port if it held it, or if neither did and o
			// comes first.
			cHeld, oHeld := slices.Contains(held[c.id], portString(c.port)), slices.Contains(held[o.id], portString(o.port))
			if cHeld && !oHeld || cHeld == oHeld && i < j {
				continue
			}
			errs[c.entry] = append(errs[c.entry], fmt.Sprintf("%s: host port %s is already published by %s", c.desc, portString(c.port), o.desc))
		}
		if !slices.Contains(held[c.id], portString(c.port)) {
			if err := bindable(c.port); err != nil {
				errs[c.entry] = append(errs[c.entry], fmt.Sprintf("%s: %v", c.desc, err))
			}
		}
	}
	for i, es := range errs {
		slices.Sort(es)
		entries[i].Err = fmt.Errorf("%s: ports: %s", entries[i].Path, strings.Join(slices.Compact(es), "; "))
		entries[i].Project = nil
	}
}

// bindable tries to bind p's host address and port, as docker reserves a
// published port: a host process listening there would otherwise take
// the host's own connections while the container gets the rest. Errors
// other than "in use" (no such local address, no privilege in a dry run)
// are not a conflict.
func bindable(p model.Port) error {
	host := p.HostIP
	addr := net.JoinHostPort(host, strconv.Itoa(int(p.HostPort)))
	var err error
	if p.Protocol == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil
	}
	return fmt.Errorf("host port %s is already bound on the host by %s", portString(p), portHolder(p))
}

// portHolder names the process holding p's socket ("pid 42 (nginx)"), as
// far as /proc shows it, else "another process".
func portHolder(p model.Port) string {
	inodes := map[string]bool{}
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6"} {
		if !strings.HasPrefix(f, p.Protocol) {
			continue
		}
		b, _ := os.ReadFile("/proc/net/" + f)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 {
				continue
			}
			_, port, _ := strings.Cut(fs[1], ":")
			n, err := strconv.ParseUint(port, 16, 16)
			// st 0A is LISTEN; any bound UDP socket counts.
			if err == nil && int(n) == int(p.HostPort) && (p.Protocol == "udp" || fs[3] == "0A") {
				inodes[fs[9]] = true
			}
		}
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		l, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(l, "socket:[") || !inodes[strings.Trim(l[len("socket:"):], "[]")] {
			continue
		}
		pid := strings.Split(fd, "/")[2]
		comm, _ := os.ReadFile(filepath.Join("/proc", pid, "comm"))
		return fmt.Sprintf("pid %s (%s)", pid, strings.TrimSpace(string(comm)))
	}
	return "another process"
}

// heldPorts lists the host ports each container id published at its
// last apply, from the member records.
func heldPorts(p Paths) map[string][]string {
	out := map[string][]string{}
	recs, _ := p.Records()
	for _, r := range recs {
		ms, _ := p.Members(r.Name)
		for _, m := range ms {
			out[m.ID] = append(out[m.ID], m.Ports...)
		}
	}
	return out
}

// portsOf are ports as member records hold them.
func portsOf(ports []model.Port) []string {
	var out []string
	for _, pt := range ports {
		out = append(out, portString(pt))
	}
	return out
}
