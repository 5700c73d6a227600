package network

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addLinkLocal adds link_local_ips to interface ifName of the namespace
// pinned at netnsPath, as docker does: /16 for IPv4 (169.254.0.0/16), /64
// for IPv6 (fe80::/64), with no route but the subnet's. No IPAM knows
// them; they go with the interface when the container stops.
func addLinkLocal(netnsPath, ifName string, ips []string) error {
	if len(ips) == 0 {
		return nil
	}
	return ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		l, err := netlink.LinkByName(ifName)
		if err != nil {
			return fmt.Errorf("link_local_ips: finding %s: %w", ifName, err)
		}
		for _, s := range ips {
			a, err := netip.ParseAddr(s)
			if err != nil || !a.IsLinkLocalUnicast() {
				return fmt.Errorf("link_local_ips: %q is not a link-local address", s)
			}
			bits := 16
			if a.Is6() {
				bits = 64
			}
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, a.BitLen())}}
			if a.Is6() {
				// No duplicate detection: the address is usable at once.
				addr.Flags = unix.IFA_F_NODAD
			}
			if err := netlink.AddrAdd(l, addr); err != nil {
				return fmt.Errorf("link_local_ips: adding %s to %s: %w", a, ifName, err)
			}
		}
		return nil
	})
}
