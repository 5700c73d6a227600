package network

import (
	"fmt"
	"net"
	"net/netip"
)

// addrMAC is the MAC address of the interface that holds ip: 02:42
// followed by the last four bytes of the address, as docker derives it.
// A container recreated with its old address therefore gets its old MAC
// too, and its peers' neighbour entries stay right: with a new MAC they
// keep sending to the old one until the entry expires, about a minute
// during which the new container is unreachable. 02 is a locally
// administered unicast prefix; two addresses of one subnet never share
// their last four bytes, so no two interfaces on a bridge collide.
func addrMAC(ip netip.Addr) net.HardwareAddr {
	b := ip.As16()
	return net.HardwareAddr{0x02, 0x42, b[12], b[13], b[14], b[15]}
}

// parseMAC parses a configured MAC address (mac_address): a unicast
// address of six bytes.
func parseMAC(s string) (net.HardwareAddr, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("MAC address %q: want six bytes such as 02:42:ac:11:00:02", s)
	}
	if mac[0]&1 != 0 {
		return nil, fmt.Errorf("MAC address %q is a multicast address", s)
	}
	return mac, nil
}

// memberMAC is the MAC of m's interface on its network: its mac_address,
// else derived from its address ("" when it has none).
func memberMAC(m *Member) string {
	if m.MAC != "" {
		return m.MAC
	}
	ip, err := netip.ParseAddr(m.IP)
	if err != nil {
		return ""
	}
	return addrMAC(ip).String()
}

// macsOn is every MAC in use on network r, by member id.
func macsOn(p Paths, r *Record) (map[string]string, error) {
	ms, err := p.Members(r.Name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range ms {
		if mac := memberMAC(m); mac != "" {
			out[mac] = m.ID
		}
	}
	return out, nil
}
