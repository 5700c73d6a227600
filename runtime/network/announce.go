package network

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// announce sends gratuitous ARP for ip from interface ifName in the
// namespace pinned at netnsPath, once as a request and once as a reply
// (hosts honour one or the other): every neighbour on the bridge that has
// an entry for ip, peers and the host alike, updates it to the
// interface's MAC at once instead of waiting for it to go stale. It
// announces the MAC the interface has, never the one asked for, and
// returns it. berth networks are IPv4 only, so there is no unsolicited
// neighbour advertisement to send.
func announce(netnsPath, ifName string, ip netip.Addr) (mac net.HardwareAddr, err error) {
	if !ip.Is4() {
		return nil, nil
	}
	err = ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		ifc, err := net.InterfaceByName(ifName)
		if err != nil {
			return fmt.Errorf("gratuitous ARP: finding %s: %w", ifName, err)
		}
		mac = ifc.HardwareAddr
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			return fmt.Errorf("gratuitous ARP: opening a packet socket: %w", err)
		}
		defer unix.Close(fd)
		to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifc.Index, Halen: 6}
		copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		for _, op := range []uint16{1, 2} { // request, reply
			if err := unix.Sendto(fd, garp(op, ip, mac), 0, to); err != nil {
				return fmt.Errorf("gratuitous ARP for %s on %s: %w", ip, ifName, err)
			}
		}
		return nil
	})
	return mac, err
}

// garp is an ARP packet (RFC 826) announcing that ip is at mac: sender
// and target address are both ip. A request leaves the target MAC zero, a
// reply repeats mac there (RFC 5227's announcement, arping -U / -A).
func garp(op uint16, ip netip.Addr, mac net.HardwareAddr) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(p[2:], 0x0800) // IPv4
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:], op)
	a := ip.As4()
	copy(p[8:], mac)
	copy(p[14:], a[:])
	if op == 2 {
		copy(p[18:], mac)
	}
	copy(p[24:], a[:])
	return p
}

// htons is v in network byte order, as the packet socket calls want it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
