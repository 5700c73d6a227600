package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/compose/model"
)

// Networker attaches network namespaces to berth networks through libcni.
type Networker struct {
	Paths Paths
	cni   *libcni.CNIConfig
	times *pluginTimes
	log   *slog.Logger
}

// New returns a Networker running the plugins in pluginDir (see
// FindPluginDir), with libcni's cache under the run dir.
func New(p Paths, pluginDir string, log *slog.Logger) *Networker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	times := newPluginTimes()
	return &Networker{Paths: p, cni: libcni.NewCNIConfigWithCacheDir([]string{pluginDir}, p.cacheDir(), times), times: times, log: log}
}

// TakePluginTimes returns how long each CNI plugin ran, by plugin and
// command ("firewall ADD"), added up since the previous call.
func (n *Networker) TakePluginTimes() map[string]time.Duration { return n.times.take() }

// Attachment is one interface to add: the container gets IP on Network,
// and Ports are published to it (give them to one attachment only). The
// interface's MAC is MAC, or else derived from IP (addrMAC), so it stays
// the same as long as the address does.
type Attachment struct {
	Network string
	IP      string
	More    []string // addresses on the network's further subnets
	MAC     string
	Ports   []model.Port
}

// AttachNetns connects the namespace pinned at netnsPath to each network,
// as interfaces eth0, eth1 … in order, under container id id (a service's
// container, or a pod). On error every interface already added is deleted
// again, so nothing leaks.
func (n *Networker) AttachNetns(ctx context.Context, id, netnsPath string, atts []Attachment) (retErr error) {
	records := make([]*Record, len(atts))
	internal := make([]bool, len(atts))
	for i, a := range atts {
		r, err := n.Paths.ReadRecord(a.Network)
		if err != nil {
			return err
		}
		records[i], internal[i] = r, r.Internal
	}
	// Before any plugin runs: a missing nft or iptables names its package.
	if err := CheckTools(exec.LookPath, internal...); err != nil {
		return fmt.Errorf("attaching %s to its networks: %w", id, err)
	}
	// Only the first ADD on a network runs under the network lock (with
	// other launchers, apply and GC): it installs the network's rules and
	// creates its bridge, which concurrent first ADDs would race for.
	// Later ADDs run side by side; host-local locks its own reservations.
	if !n.Paths.networksReady(records) {
		unlock, err := n.Paths.lock()
		if err != nil {
			return err
		}
		defer unlock()
		if err := n.Paths.ensureNetworks(ctx, records); err != nil {
			return fmt.Errorf("attaching %s to its networks: %w", id, err)
		}
	}
	var added []*libcni.NetworkConfigList
	var rts []*libcni.RuntimeConf
	defer func() {
		if retErr == nil {
			return
		}
		if err := n.Paths.unpublish(context.WithoutCancel(ctx), id); err != nil {
			n.log.Error("removing published ports after a failed attach", "container", id, "err", err)
		}
		for i := len(added) - 1; i >= 0; i-- {
			if err := n.cni.DelNetworkList(context.WithoutCancel(ctx), added[i], rts[i]); err != nil {
				n.log.Error("removing a network interface after a failed attach", "container", id, "network", added[i].Name, "err", err)
			}
		}
	}()
	for i, a := range atts {
		r := records[i]
		list, err := confList(r, n.Paths)
		if err != nil {
			return err
		}
		rt, err := runtimeConf(id, netnsPath, fmt.Sprintf("eth%d", i), r, a)
		if err != nil {
			return err
		}
		start := time.Now()
		before := n.times.snapshot()
		_, err = n.cni.AddNetworkList(ctx, list, rt)
		// A failed ADD may have done half its work (veth, reservation,
		// rules): DEL with the same arguments undoes what exists.
		added, rts = append(added, list), append(rts, rt)
		if err != nil {
			return fmt.Errorf("attaching %s to network %s: %w", id, a.Network, err)
		}
		n.log.Debug("network attached", "container", id, "network", a.Network, "ip", a.IP, "took", time.Since(start),
			"plugins", formatTimes(n.times.since(before)))
		// Peers that knew the address under another MAC (a mac_address
		// edit, or a container made before MACs were derived) learn the
		// new one now. Not fatal: the peers' entries expire anyway.
		got, err := announce(netnsPath, rt.IfName, netip.MustParseAddr(a.IP))
		if err != nil {
			n.log.Warn("announcing the address", "container", id, "network", a.Network, "ip", a.IP, "err", err)
		}
		if want, _ := a.mac(); got != nil && got.String() != want.String() {
			// A bridge plugin without the "mac" capability (an old
			// cni_plugin_dir): peers lose a recreated container for
			// about a minute again.
			n.log.Warn("the bridge plugin ignored the MAC address", "container", id, "network", a.Network, "want", want, "got", got)
		}
	}
	// Published ports: map elements in berth's nftables table.
	return n.Paths.publish(ctx, id, netnsPath, records, atts)
}

func runtimeConf(id, netnsPath, ifName string, r *Record, a Attachment) (*libcni.RuntimeConf, error) {
	subnet := netip.MustParsePrefix(r.Subnet)
	ip, err := netip.ParseAddr(a.IP)
	if err != nil || !subnet.Contains(ip) {
		return nil, fmt.Errorf("address %q of %s is not in network %s (%s); run berth apply", a.IP, id, r.Name, subnet)
	}
	mac, err := a.mac()
	if err != nil {
		return nil, fmt.Errorf("%s on network %s: %w", id, r.Name, err)
	}
	// The bridge plugin's "mac" capability sets the container interface's
	// MAC; libcni caches it with the other arguments, so DEL gets it too.
	ips, err := r.withPrefixes(append([]string{a.IP}, a.More...))
	if err != nil {
		return nil, fmt.Errorf("%s: %w; run berth apply", id, err)
	}
	caps := map[string]any{
		"ips": ips,
		"mac": mac.String(),
	}
	// Published ports are berth's map elements (publish), not a plugin's
	// capability; checked here so a bad port fails before the ADD.
	if _, err := portElems(r, a); err != nil {
		return nil, err
	}
	return &libcni.RuntimeConf{ContainerID: id, NetNS: netnsPath, IfName: ifName, CapabilityArgs: caps}, nil
}

// mac is the MAC of a's interface: MAC, else derived from IP.
func (a Attachment) mac() (net.HardwareAddr, error) {
	if a.MAC != "" {
		return parseMAC(a.MAC)
	}
	ip, err := netip.ParseAddr(a.IP)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", a.IP, err)
	}
	return addrMAC(ip), nil
}

// DetachNetns deletes every interface attached under container id, with
// exactly the configuration and capability arguments its ADD had (from
// libcni's cache): host-local finds its reservation (and an attachment
// made before the network's rules moved to syncRules, its firewall plugin
// and masquerade rules and portmap's DNAT rules), and id's published
// ports go (unpublish).
// It is idempotent. It does not cancel half-way when ctx ends: a DEL cut
// short leaves rules behind, so it always runs to completion.
func (n *Networker) DetachNetns(ctx context.Context, id string) error {
	atts, err := n.cni.GetCachedAttachments(id)
	if err != nil {
		return fmt.Errorf("reading CNI cache of %s: %w", id, err)
	}
	errs := []error{n.Paths.unpublish(context.WithoutCancel(ctx), id)}
	for _, a := range atts {
		errs = append(errs, n.delCached(context.WithoutCancel(ctx), a))
	}
	return errors.Join(errs...)
}

// delCached deletes one cached attachment with its ADD's configuration and
// arguments. When the namespace it was attached to is gone, the DEL runs
// against an empty scratch namespace instead: without a namespace the
// bridge plugin only releases the address and skips removing the
// container's masquerade rules, while in an empty one it finds no
// interface and still removes them.
func (n *Networker) delCached(ctx context.Context, a *libcni.NetworkAttachment) error {
	list, err := libcni.NetworkConfFromBytes(a.Config)
	if err != nil {
		return fmt.Errorf("cached CNI config of %s on %s: %w", a.ContainerID, a.Network, err)
	}
	rt := &libcni.RuntimeConf{ContainerID: a.ContainerID, NetNS: a.NetNS, IfName: a.IfName, Args: a.CniArgs, CapabilityArgs: a.CapabilityArgs}
	if !isNetns(a.NetNS) {
		scratch, done, err := n.Paths.scratchNetns()
		if err != nil {
			return fmt.Errorf("detaching %s from network %s: %w", a.ContainerID, a.Network, err)
		}
		defer done()
		rt.NetNS = scratch
		// The host end of the veth goes with its namespace, but the
		// kernel frees namespaces lazily: delete it now.
		if res, err := n.cni.GetNetworkListCachedResult(list, rt); err == nil && res != nil {
			deleteHostVeths(res)
		}
	}
	if err := n.cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("detaching %s from network %s: %w", a.ContainerID, a.Network, err)
	}
	return nil
}

// deleteHostVeths deletes the host-side veths a cached ADD result lists
// (interfaces outside any sandbox that are veths, never the bridge).
func deleteHostVeths(res types.Result) {
	r, err := current.NewResultFromResult(res)
	if err != nil {
		return
	}
	for _, ifc := range r.Interfaces {
		if ifc.Sandbox != "" {
			continue
		}
		if l, err := netlink.LinkByName(ifc.Name); err == nil && l.Type() == "veth" {
			_ = netlink.LinkDel(l)
		}
	}
}
