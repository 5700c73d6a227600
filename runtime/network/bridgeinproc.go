package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/utils/sysctl"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/disk"
	"github.com/vishvananda/netlink"
)

// The bridge plugin with host-local IPAM, run in process: libcni still
// drives the ADD and DEL and keeps its cache, but its call to exec the
// plugin lands here (pluginTimes.ExecPlugin) for the configurations berth
// writes. Execing the two plugins costs tens of milliseconds per container;
// the netlink work itself a few. The plugins stay the reference: same
// interfaces, addresses, routes, sysctls, bridge port flags and host-local
// files (TestInProcessBridgeMatchesPlugin), and every configuration this
// code does not fully understand still goes to them.

// ExecBridgeEnv set to 1 in a launcher's environment makes it exec the
// bridge plugin as berth did before: the way back should the in-process
// path misbehave on some host, and the benchmarks' "before".
const ExecBridgeEnv = "BERTH_CNI_EXEC_BRIDGE"

// bridgeConf is the part of a bridge configuration the in-process path
// implements.
type bridgeConf struct {
	CNIVersion    string `json:"cniVersion"`
	Name          string `json:"name"`
	Bridge        string `json:"bridge"`
	IsGateway     bool   `json:"isGateway"`
	HairpinMode   bool   `json:"hairpinMode"`
	MTU           int    `json:"mtu"`
	RuntimeConfig struct {
		MAC string `json:"mac"`
	} `json:"runtimeConfig"`
}

// inProcessKeys are the bridge configuration keys implemented here, and
// inProcessIPAMKeys those of its host-local IPAM section. Anything else
// (an older berth's ipMasq, say) runs the plugin.
var (
	inProcessKeys = map[string]bool{"cniVersion": true, "name": true, "type": true, "bridge": true, "isGateway": true,
		"hairpinMode": true, "mtu": true, "capabilities": true, "ipam": true, "runtimeConfig": true, "prevResult": true}
	inProcessIPAMKeys = map[string]bool{"type": true, "dataDir": true, "ranges": true, "routes": true}
)

// cniCall is what the CNI_* variables of a plugin call say.
type cniCall struct {
	command, id, netns, ifName, args string
}

func cniCallOf(environ []string) cniCall {
	return cniCall{
		command: envValue(environ, "CNI_COMMAND"),
		id:      envValue(environ, "CNI_CONTAINERID"),
		netns:   envValue(environ, "CNI_NETNS"),
		ifName:  envValue(environ, "CNI_IFNAME"),
		args:    envValue(environ, "CNI_ARGS"),
	}
}

// inProcessBridge parses stdin when the call is an ADD or DEL that this
// file implements; ok is false when the plugin must run instead.
func inProcessBridge(stdin []byte, c cniCall) (conf *bridgeConf, ok bool) {
	if c.command != "ADD" && c.command != "DEL" || c.args != "" {
		return nil, false
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(stdin, &raw) != nil {
		return nil, false
	}
	for k := range raw {
		if !inProcessKeys[k] {
			return nil, false
		}
	}
	var ipamRaw map[string]json.RawMessage
	if json.Unmarshal(raw["ipam"], &ipamRaw) != nil || string(ipamRaw["type"]) != `"host-local"` {
		return nil, false
	}
	for k := range ipamRaw {
		if !inProcessIPAMKeys[k] {
			return nil, false
		}
	}
	conf = &bridgeConf{}
	if json.Unmarshal(stdin, conf) != nil || conf.Bridge == "" || !conf.IsGateway {
		return nil, false
	}
	return conf, true
}

// bridgeAdd does what the bridge plugin's ADD does for conf: the bridge
// (made only when missing), a veth pair whose container end is c.ifName
// with the "mac" capability's MAC, hairpin mode on the host end, the
// addresses host-local reserves on disk, the routes, and each subnet's
// gateway address on the bridge. It returns the plugin's result. On error
// it removes the interfaces and reservations it made.
func bridgeAdd(stdin []byte, c cniCall, conf *bridgeConf) (_ []byte, retErr error) {
	br, err := ensureBridge(conf)
	if err != nil {
		return nil, err
	}
	netns, err := ns.GetNS(c.netns)
	if err != nil {
		return nil, fmt.Errorf("opening netns %q: %w", c.netns, err)
	}
	defer netns.Close()

	var hostVeth, contVeth net.Interface
	if err := netns.Do(func(host ns.NetNS) error {
		var err error
		hostVeth, contVeth, err = ip.SetupVeth(c.ifName, conf.MTU, conf.RuntimeConfig.MAC, host)
		return err
	}); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = netns.Do(func(ns.NetNS) error { return ip.DelLinkByName(c.ifName) })
		}
	}()
	hl, err := netlinksafe.LinkByName(hostVeth.Name)
	if err != nil {
		return nil, fmt.Errorf("looking up %q: %w", hostVeth.Name, err)
	}
	if err := netlink.LinkSetMaster(hl, br); err != nil {
		return nil, fmt.Errorf("connecting %q to bridge %s: %w", hostVeth.Name, conf.Bridge, err)
	}
	if err := netlink.LinkSetHairpin(hl, conf.HairpinMode); err != nil {
		return nil, fmt.Errorf("setting hairpin mode on %q: %w", hostVeth.Name, err)
	}

	res := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: conf.Bridge},
			{Name: hostVeth.Name},
			{Name: contVeth.Name, Mac: contVeth.HardwareAddr.String(), Sandbox: netns.Path()},
		},
	}
	if res.IPs, res.Routes, err = hostLocalReserve(stdin, c); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = hostLocalRelease(stdin, c)
		}
	}()
	var gateways []*net.IPNet
	for _, ipc := range res.IPs {
		ipc.Interface = current.Int(2)
		if ipc.Gateway == nil {
			ipc.Gateway = ip.NextIP(ipc.Address.IP.Mask(ipc.Address.Mask))
		}
		gateways = append(gateways, &net.IPNet{IP: ipc.Gateway, Mask: ipc.Address.Mask})
	}
	if err := netns.Do(func(ns.NetNS) error {
		// As the plugin: no duplicate address detection (the addresses
		// are reserved), and peers learn the MAC when the link comes up.
		_, _ = sysctl.Sysctl(fmt.Sprintf("net/ipv6/conf/%s/accept_dad", c.ifName), "0")
		_, _ = sysctl.Sysctl(fmt.Sprintf("net/ipv4/conf/%s/arp_notify", c.ifName), "1")
		return ipam.ConfigureIface(c.ifName, res)
	}); err != nil {
		return nil, err
	}
	if err := ensureGateways(br, gateways); err != nil {
		return nil, err
	}
	if hl, err = waitOperUp(hostVeth.Name); err != nil {
		return nil, err
	}
	res.Interfaces[1].Mac = hl.Attrs().HardwareAddr.String()
	if l, err := netlinksafe.LinkByName(conf.Bridge); err == nil {
		res.Interfaces[0].Mac = l.Attrs().HardwareAddr.String()
	}
	out, err := res.GetAsVersion(conf.CNIVersion)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// bridgeDel does what the bridge plugin's DEL does for conf: it deletes
// the container's interface (when its namespace still exists) and
// releases its host-local reservations.
func bridgeDel(stdin []byte, c cniCall) error {
	if c.netns != "" {
		err := ns.WithNetNSPath(c.netns, func(ns.NetNS) error {
			if _, err := ip.DelLinkByNameAddr(c.ifName); err != nil && !errors.Is(err, ip.ErrLinkNotFound) {
				return err
			}
			return nil
		})
		var gone ns.NSPathNotExistErr
		if err != nil && !errors.As(err, &gone) {
			return err
		}
	}
	return hostLocalRelease(stdin, c)
}

// ensureBridge returns conf's bridge, made and brought up when missing
// (the plugin's settings: its MTU, no router advertisements accepted).
func ensureBridge(conf *bridgeConf) (*netlink.Bridge, error) {
	l, err := netlinksafe.LinkByName(conf.Bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("looking up bridge %s: %w", conf.Bridge, err)
		}
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU = conf.Bridge, conf.MTU
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, syscall.EEXIST) {
			return nil, fmt.Errorf("creating bridge %s: %w", conf.Bridge, err)
		}
		if l, err = netlinksafe.LinkByName(conf.Bridge); err != nil {
			return nil, fmt.Errorf("looking up bridge %s: %w", conf.Bridge, err)
		}
		_, _ = sysctl.Sysctl(fmt.Sprintf("net/ipv6/conf/%s/accept_ra", conf.Bridge), "0")
	}
	br, ok := l.(*netlink.Bridge)
	if !ok {
		return nil, fmt.Errorf("%s already exists but is not a bridge", conf.Bridge)
	}
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(br); err != nil {
			return nil, fmt.Errorf("bringing bridge %s up: %w", conf.Bridge, err)
		}
	}
	return br, nil
}

// ensureGateways puts each gateway address on the bridge unless it is
// there, with the plugin's checks: an IPv4 bridge holds one address, an
// IPv6 address must not overlap another. Forwarding is turned on for
// each family that has a gateway. Adding an address pins the bridge's MAC,
// which otherwise follows its ports.
func ensureGateways(br *netlink.Bridge, gateways []*net.IPNet) error {
	have, err := netlinksafe.AddrList(br, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses of bridge %s: %w", br.Name, err)
	}
	added := false
	for _, gw := range gateways {
		v4 := gw.IP.To4() != nil
		found := false
		for _, a := range have {
			if a.IPNet.String() == gw.String() {
				found = true
				break
			}
			if (a.IP.To4() != nil) != v4 {
				continue
			}
			if v4 || a.IPNet.Contains(gw.IP) || gw.Contains(a.IP) {
				return fmt.Errorf("%q already has an IP address different from %v", br.Name, gw)
			}
		}
		if found {
			continue
		}
		if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: gw}); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("adding %s to bridge %s: %w", gw, br.Name, err)
		}
		added = true
	}
	if added {
		if err := netlink.LinkSetHardwareAddr(br, br.HardwareAddr); err != nil {
			return fmt.Errorf("pinning the MAC of bridge %s: %w", br.Name, err)
		}
	}
	for _, gw := range gateways {
		enable := ip.EnableIP6Forward
		if gw.IP.To4() != nil {
			enable = ip.EnableIP4Forward
		}
		if err := enable(); err != nil {
			return fmt.Errorf("enabling forwarding: %w", err)
		}
	}
	return nil
}

// waitOperUp waits, as the plugin does (up to about 2.5 s), for the host
// end of the veth to be operationally up, so traffic flows once ADD
// returns.
func waitOperUp(name string) (netlink.Link, error) {
	deadline := time.Now().Add(2550 * time.Millisecond)
	for {
		l, err := netlinksafe.LinkByName(name)
		if err != nil {
			return nil, err
		}
		if l.Attrs().OperState == netlink.OperUp {
			return l, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bridge port in error state: %s", l.Attrs().OperState)
		}
		time.Sleep(time.Millisecond)
	}
}

// hostLocalReserve takes one address in each of the IPAM section's range sets, in
// host-local's on-disk store (the requested addresses of the "ips"
// capability, as host-local does), and returns them with its routes.
func hostLocalReserve(stdin []byte, c cniCall) ([]*current.IPConfig, []*types.Route, error) {
	conf, _, err := allocator.LoadIPAMConfig(stdin, c.args)
	if err != nil {
		return nil, nil, err
	}
	store, err := disk.New(conf.Name, conf.DataDir)
	if err != nil {
		return nil, nil, err
	}
	defer store.Close()
	requested := map[string]net.IP{}
	for _, a := range conf.IPArgs {
		requested[a.String()] = a
	}
	var ips []*current.IPConfig
	var done []*allocator.IPAllocator
	fail := func(err error) ([]*current.IPConfig, []*types.Route, error) {
		for _, a := range done {
			_ = a.Release(c.id, c.ifName)
		}
		return nil, nil, err
	}
	for i := range conf.Ranges {
		a := allocator.NewIPAllocator(&conf.Ranges[i], store, i)
		var want net.IP
		for k, r := range requested {
			if conf.Ranges[i].Contains(r) {
				want = r
				delete(requested, k)
				break
			}
		}
		ipc, err := a.Get(c.id, c.ifName, want)
		if err != nil {
			return fail(fmt.Errorf("failed to allocate for range %d: %w", i, err))
		}
		done = append(done, a)
		ips = append(ips, ipc)
	}
	if len(requested) > 0 {
		var left []string
		for k := range requested {
			left = append(left, k)
		}
		return fail(fmt.Errorf("failed to allocate all requested IPs: %v", left))
	}
	return ips, conf.Routes, nil
}

// hostLocalRelease drops c's reservations from host-local's store.
func hostLocalRelease(stdin []byte, c cniCall) error {
	conf, _, err := allocator.LoadIPAMConfig(stdin, c.args)
	if err != nil {
		return err
	}
	store, err := disk.New(conf.Name, conf.DataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	var errs []error
	for i := range conf.Ranges {
		errs = append(errs, allocator.NewIPAllocator(&conf.Ranges[i], store, i).Release(c.id, c.ifName))
	}
	return errors.Join(errs...)
}

// ExecBridgePlugin makes n exec the bridge plugin (and host-local) again
// instead of doing their work in process: the reference that benchmarks
// and tests compare with.
func (n *Networker) ExecBridgePlugin(exec bool) { n.times.execBridge = exec }
