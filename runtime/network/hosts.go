package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Files are the name-resolution files of one container, kept in its run
// dir and bind-mounted over /etc/hosts, /etc/resolv.conf and /etc/hostname.
// net.json records what hosts is rendered from, so apply can re-render it
// in place (the bind mount keeps the inode) when peers change.
const (
	hostsFile    = "hosts"
	resolvFile   = "resolv.conf"
	hostnameFile = "hostname"
	netInfoFile  = "net.json"
)

// netInfo is what a container's hosts file is rendered from.
type netInfo struct {
	ID       string            `json:"id"`
	Hostname string            `json:"hostname"`
	Networks map[string]string `json:"networks,omitempty"` // berth network → own address
	Extra    []string          `json:"extra_hosts,omitempty"`
	// Follow is the container whose netns (and files) this one shares.
	Follow string `json:"follow,omitempty"`
	// Member is the member record holding the container's own addresses
	// when it is not the container's (a pod container's is its pod's).
	Member string `json:"member,omitempty"`
}

// self is the id of the member record naming the container's addresses.
func (i *netInfo) self() string {
	if i.Member != "" {
		return i.Member
	}
	return i.ID
}

// renderHosts is localhost, the container's own addresses and names, every
// peer on its networks by every name, and extra_hosts (which win, being
// first among the non-local lines... and docker lists them first too).
func renderHosts(p Paths, info *netInfo) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	nets := make([]string, 0, len(info.Networks))
	for n := range info.Networks {
		nets = append(nets, n)
	}
	slices.Sort(nets)
	for _, e := range info.Extra {
		name, ip, err := parseExtraHost(e, func() (netip.Addr, error) { return gatewayOf(p, nets) })
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	if len(nets) == 0 && info.Hostname != "" {
		fmt.Fprintf(&b, "127.0.1.1\t%s\n", info.Hostname)
	}
	seen := map[string]bool{}
	for i, n := range nets {
		ms, err := p.Members(n)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.ID != info.self() {
				continue
			}
			names := m.Names
			if i == 0 && info.Hostname != "" && !slices.Contains(names, info.Hostname) {
				names = append([]string{info.Hostname}, names...)
			}
			writeHostsLines(&b, m, names)
			for _, nm := range names {
				seen[nm] = true
			}
		}
	}
	for _, n := range nets {
		ms, err := p.Members(n)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.ID == info.self() {
				continue
			}
			var names []string
			for _, nm := range m.Names {
				if !seen[nm] {
					names = append(names, nm)
					seen[nm] = true
				}
			}
			writeHostsLines(&b, m, names)
		}
	}
	return b.Bytes(), nil
}

// writeHostsLines gives names a line per address of m (IPv4 and, on a
// dual-stack network, IPv6), so a lookup of either family finds it.
func writeHostsLines(b *bytes.Buffer, m *Member, names []string) {
	if len(names) == 0 {
		return
	}
	for _, a := range m.Addrs() {
		fmt.Fprintf(b, "%s\t%s\n", a, strings.Join(names, " "))
	}
}

// HostGateway is the address extra_hosts may give instead of an IP, as
// docker's: the host as the container reaches it.
const HostGateway = "host-gateway"

// parseExtraHost reads compose's "name:ip" (or "name=ip"); ip may be
// HostGateway, which gateway resolves.
func parseExtraHost(e string, gateway func() (netip.Addr, error)) (name string, ip netip.Addr, err error) {
	name, addr, ok := strings.Cut(e, "=")
	if !ok {
		name, addr, ok = strings.Cut(e, ":")
	}
	switch {
	case !ok || name == "":
	case addr == HostGateway:
		if ip, err = gateway(); err != nil {
			return "", netip.Addr{}, fmt.Errorf("extra_hosts entry %q: %w", e, err)
		}
		return name, ip, nil
	default:
		ip, err = netip.ParseAddr(strings.Trim(addr, "[]"))
	}
	if !ok || err != nil || name == "" {
		return "", netip.Addr{}, fmt.Errorf("extra_hosts entry %q: want NAME:IP or NAME:%s", e, HostGateway)
	}
	return name, ip, nil
}

// gatewayOf is the host's address on the first of nets (sorted berth
// network names) that is not internal, else on the first: the bridge's
// gateway address, which the host always holds.
func gatewayOf(p Paths, nets []string) (netip.Addr, error) {
	var gw string
	for _, n := range nets {
		r, err := p.ReadRecord(n)
		if err != nil {
			return netip.Addr{}, err
		}
		if gw == "" || !r.Internal {
			gw = r.Gateway
		}
		if !r.Internal {
			break
		}
	}
	if gw == "" {
		return netip.Addr{}, fmt.Errorf("%s: the container is on no network", HostGateway)
	}
	return netip.ParseAddr(gw)
}

// renderResolv is resolv.conf from dns/dns_search, else the host's; in a
// private netns the host's loopback resolvers (systemd-resolved, dnsmasq)
// are unreachable, so they are dropped.
func renderResolv(dns, search []string, hostNetwork bool) ([]byte, error) {
	var servers, searches, options []string
	host, _ := os.ReadFile("/etc/resolv.conf")
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if a, err := netip.ParseAddr(f[1]); err == nil && (hostNetwork || !a.IsLoopback()) {
				servers = append(servers, f[1])
			}
		case "search", "domain":
			searches = append(searches, f[1:]...)
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if len(dns) > 0 {
		servers = nil
		for _, d := range dns {
			if _, err := netip.ParseAddr(d); err != nil {
				return nil, fmt.Errorf("dns %q is not an IP address", d)
			}
			servers = append(servers, d)
		}
	}
	if len(search) > 0 {
		searches = search
	}
	var b bytes.Buffer
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes(), nil
}

// writeInPlace rewrites path keeping its inode, so a bind mount of it sees
// the new content.
func writeInPlace(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RefreshHosts re-renders the hosts file of every running container from
// the current members, so a peer added or re-addressed by apply is found
// by name. Containers sharing another's netns get that one's file.
func RefreshHosts(p Paths) error {
	infos, _ := filepath.Glob(filepath.Join(p.RunDir, "containers", "*", netInfoFile))
	var errs []string
	for _, f := range infos {
		var info netInfo
		if err := readJSON(f, &info); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		dir := filepath.Dir(f)
		var b []byte
		var err error
		if info.Follow != "" {
			b, err = os.ReadFile(filepath.Join(p.RunDir, "containers", info.Follow, hostsFile))
		} else {
			b, err = renderHosts(p, &info)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", info.ID, err))
			continue
		}
		if old, err := os.ReadFile(filepath.Join(dir, hostsFile)); err == nil && bytes.Equal(old, b) {
			continue
		}
		if err := writeInPlace(filepath.Join(dir, hostsFile), b); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", info.ID, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("refreshing hosts files: %s", strings.Join(errs, "; "))
	}
	return nil
}
