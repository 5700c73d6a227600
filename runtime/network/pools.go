package network

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/compose/model"
)

// usable reports whether a may be given to a member of subnet: not the
// network's own address, not its gateway, not the IPv4 broadcast.
func usable(subnet netip.Prefix, gw, a netip.Addr) bool {
	return subnet.Contains(a) && a != gw && a != subnet.Addr() && (!a.Is4() || a != broadcast(subnet))
}

// pickAddr chooses id's address in subnet: prior if it is still free,
// else the first free one from a hash of id. For IPv4 this is the same
// walk as always (hash32 modulo the subnet's size), so addresses chosen
// before IPv6 existed do not move.
func pickAddr(subnet netip.Prefix, gw netip.Addr, id string, prior netip.Addr, taken map[netip.Addr]string) (netip.Addr, error) {
	free := func(a netip.Addr) bool {
		owner, ok := taken[a]
		return usable(subnet, gw, a) && (!ok || owner == id)
	}
	if prior.IsValid() && free(prior) {
		return prior, nil
	}
	hostBits := subnet.Addr().BitLen() - subnet.Bits()
	var start, size uint64 // size 0: 2^64 offsets, more than ever taken
	if subnet.Addr().Is4() {
		size = 1 << hostBits
		start = uint64(hash32(id)) % size
	} else {
		sum := sha256.Sum256([]byte(id))
		start = binary.BigEndian.Uint64(sum[:8])
		if hostBits < 64 {
			size = 1 << hostBits
			start %= size
		}
	}
	// At most len(taken)+3 candidates are excluded, so the walk is short
	// even in a /64.
	limit := uint64(len(taken)) + 4
	if size != 0 && size < limit {
		limit = size
	}
	for i := uint64(0); i < limit; i++ {
		off := start + i
		if size != 0 {
			off %= size
		}
		if a := addrAt(subnet, off); free(a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s", subnet)
}

// addrAt is subnet's address at offset off (less than the subnet's size).
func addrAt(subnet netip.Prefix, off uint64) netip.Addr {
	if subnet.Addr().Is4() {
		b := subnet.Addr().As4()
		binary.BigEndian.PutUint32(b[:], binary.BigEndian.Uint32(b[:])+uint32(off))
		return netip.AddrFrom4(b)
	}
	b := subnet.Addr().As16()
	binary.BigEndian.PutUint64(b[8:], binary.BigEndian.Uint64(b[8:])+off)
	return netip.AddrFrom16(b)
}

// ulaSubnet is the i-th candidate IPv6 /64 for network name without an
// IPv6 ipam subnet: a ULA prefix (RFC 4193, fd00::/8) whose 40-bit global
// id comes from a hash of the name, so it is stable across applies and
// hosts, and subnet id i.
func ulaSubnet(name string, i int) netip.Prefix {
	sum := sha256.Sum256([]byte("berth ula " + name))
	var b [16]byte
	b[0] = 0xfd
	copy(b[1:6], sum[:5])
	binary.BigEndian.PutUint16(b[6:8], uint16(i))
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// pool checks one subnet of a network and fills in its gateway (the first
// address unless set).
func pool(p model.Pool) (netip.Prefix, netip.Addr, error) {
	s, err := netip.ParsePrefix(p.Subnet)
	if err != nil || s.Bits() > s.Addr().BitLen()-2 {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("ipam subnet %q is not a CIDR of /%d or larger", p.Subnet, s.Addr().BitLen()-2)
	}
	s = s.Masked()
	gw := s.Addr().Next()
	if p.Gateway != "" {
		g, err := netip.ParseAddr(p.Gateway)
		if err != nil || !s.Contains(g) {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("ipam gateway %q is not an address in %s", p.Gateway, s)
		}
		gw = g
	}
	return s, gw, nil
}

// hostRoute is a route of the host's main table.
type hostRoute struct {
	Dst  netip.Prefix
	Link string
}

// hostRoutes lists the host's routes with a destination (not the
// default routes), IPv4 and IPv6, with the device they go through.
func hostRoutes() ([]hostRoute, error) {
	rs, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing the host's routes: %w", err)
	}
	names := map[int]string{}
	var out []hostRoute
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		if !ok || ones == 0 {
			continue
		}
		if _, ok := names[r.LinkIndex]; !ok {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
				names[r.LinkIndex] = l.Attrs().Name
			}
		}
		out = append(out, hostRoute{Dst: netip.PrefixFrom(dst.Unmap(), ones), Link: names[r.LinkIndex]})
	}
	return out, nil
}

// routeConflict names the host route subnet would shadow or be shadowed
// by: a route through a device that is no berth bridge (bridges lists
// them). Link-local and multicast routes the kernel adds to every
// interface are no conflict.
func routeConflict(subnet netip.Prefix, routes []hostRoute, bridges []string) error {
	for _, r := range routes {
		if !r.Dst.Overlaps(subnet) || slices.Contains(bridges, r.Link) || r.Dst.Addr().IsLinkLocalUnicast() || r.Dst.Addr().IsMulticast() {
			continue
		}
		return fmt.Errorf("subnet %s overlaps the host's route to %s via %s; choose another ipam subnet", subnet, r.Dst, r.Link)
	}
	return nil
}

// withPrefixes writes each address as address/prefix length of the
// subnet of r holding it, as the "ips" capability wants them.
func (r *Record) withPrefixes(addrs []string) ([]string, error) {
	var out []string
	for _, s := range addrs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", s, err)
		}
		found := false
		for _, p := range r.Pools() {
			if sub, err := netip.ParsePrefix(p.Subnet); err == nil && sub.Contains(a) {
				out, found = append(out, netip.PrefixFrom(a, sub.Bits()).String()), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("address %s is in no subnet of network %s", a, r.Name)
		}
	}
	return out, nil
}
