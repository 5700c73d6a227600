package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containernetworking/plugins/pkg/utils"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"
)

// Published ports are elements of four maps of the rules table (syncRules
// makes them with the network rules, once): per address family, one keyed
// by host address, protocol and port for ports published on one host
// address, one keyed by protocol and port for those on every address. The
// value is the container's address and port to DNAT to. Each element's
// comment is the container id, so GC finds the elements of containers that
// are gone; the elements a container got are also recorded in the run dir
// (portsRecord), so its DEL deletes them without listing the maps.
const (
	hostPortsChain = "hostports"
	mapHostIP4     = "hostip-ports4"
	mapAny4        = "any-ports4"
	mapHostIP6     = "hostip-ports6"
	mapAny6        = "any-ports6"
)

// portMaps are the maps of published ports with their types.
var portMaps = []struct{ name, typ string }{
	{mapHostIP4, "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service"},
	{mapAny4, "inet_proto . inet_service : ipv4_addr . inet_service"},
	{mapHostIP6, "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service"},
	{mapAny6, "inet_proto . inet_service : ipv6_addr . inet_service"},
}

// portRules adds the chains that DNAT published ports to tx: traffic to a
// local address (from outside, from containers, and from the host itself
// through the output hook, 127.0.0.1 included) looks its destination up in
// the maps, the host-address maps first.
func portRules(tx *knftables.Transaction) {
	for _, m := range portMaps {
		tx.Add(&knftables.Map{Name: m.name, Type: m.typ, Comment: knftables.PtrTo("published ports")})
	}
	tx.Add(&knftables.Chain{Name: hostPortsChain})
	tx.Flush(&knftables.Chain{Name: hostPortsChain})
	tx.Add(&knftables.Rule{Chain: hostPortsChain,
		Rule: "meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @" + mapHostIP4})
	tx.Add(&knftables.Rule{Chain: hostPortsChain,
		Rule: "meta nfproto ipv4 dnat ip to meta l4proto . th dport map @" + mapAny4})
	tx.Add(&knftables.Rule{Chain: hostPortsChain,
		Rule: "meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @" + mapHostIP6})
	tx.Add(&knftables.Rule{Chain: hostPortsChain,
		Rule: "meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @" + mapAny6})
	for _, hook := range []knftables.BaseChainHook{knftables.PreroutingHook, knftables.OutputHook} {
		name := string(hook)
		tx.Add(&knftables.Chain{Name: name, Type: knftables.PtrTo(knftables.NATType),
			Hook: knftables.PtrTo(hook), Priority: knftables.PtrTo(knftables.DNATPriority)})
		tx.Flush(&knftables.Chain{Name: name})
		tx.Add(&knftables.Rule{Chain: name, Rule: "fib daddr type local meta l4proto { tcp, udp } jump " + hostPortsChain})
	}
}

// portMasquerade adds r's rules that make published ports answer their
// clients, to tx's postrouting chain: DNATed traffic from r's subnets
// into its bridge (a container reaching its own or a peer's published
// port through the host) leaves with the gateway's address, or the
// container would drop a packet from itself and a peer would answer
// directly; so does DNATed traffic from the host's 127.0.0.0/8 (which
// route_localnet lets through the bridge), which the container could not
// answer at all. The subnet, not the input bridge, is matched: with
// br_netfilter the hairpinned packet is bridged and has no input
// interface in postrouting.
func portMasquerade(tx *knftables.Transaction, r *Record) error {
	br := `"` + r.Bridge + `"`
	for _, pool := range r.Pools() {
		subnet, err := netip.ParsePrefix(pool.Subnet)
		if err != nil {
			return fmt.Errorf("network %s: subnet %q: %w", r.Name, pool.Subnet, err)
		}
		fam := "ip"
		if subnet.Addr().Is6() {
			fam = "ip6"
		}
		tx.Add(&knftables.Rule{Chain: "postrouting",
			Rule:    knftables.Concat("ct status dnat oifname", br, fam, "saddr", subnet.Masked().String(), "masquerade"),
			Comment: knftables.PtrTo(r.Name)})
	}
	tx.Add(&knftables.Rule{Chain: "postrouting",
		Rule:    knftables.Concat("ct status dnat oifname", br, "ip saddr 127.0.0.0/8 masquerade"),
		Comment: knftables.PtrTo(r.Name)})
	return nil
}

// portElem is one published port as a map element, as recorded.
type portElem struct {
	Map   string   `json:"map"`
	Key   []string `json:"key"`
	Value []string `json:"value"`
}

// portElems lists the map elements publishing a's ports on network r:
// each port to the container's first IPv4 and first IPv6 address on r. A
// port on one host address maps only the container address of its family;
// one on every address ("", 0.0.0.0), both; "::" only the IPv6 one.
func portElems(r *Record, a Attachment) ([]portElem, error) {
	if len(a.Ports) == 0 {
		return nil, nil
	}
	if r.Internal {
		return nil, fmt.Errorf("network %s is internal: ports cannot be published on it", r.Name)
	}
	var v4, v6 netip.Addr
	for _, s := range append([]string{a.IP}, a.More...) {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("network %s: address %q: %w", r.Name, s, err)
		}
		if ip.Is4() && !v4.IsValid() {
			v4 = ip
		} else if ip.Is6() && !v6.IsValid() {
			v6 = ip
		}
	}
	var out []portElem
	for _, p := range a.Ports {
		if p.HostPort == 0 {
			return nil, fmt.Errorf("port %d/%s: publishing needs a host port", p.ContainerPort, p.Protocol)
		}
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" {
			return nil, fmt.Errorf("port %d/%s: protocol must be tcp or udp", p.HostPort, proto)
		}
		var host netip.Addr
		if p.HostIP != "" && p.HostIP != "0.0.0.0" {
			h, err := netip.ParseAddr(p.HostIP)
			if err != nil {
				return nil, fmt.Errorf("port %d/%s: host address %q: %w", p.HostPort, proto, p.HostIP, err)
			}
			host = h
		}
		port, cport := strconv.Itoa(int(p.HostPort)), strconv.Itoa(int(p.ContainerPort))
		for _, ctr := range []netip.Addr{v4, v6} {
			switch {
			case !ctr.IsValid():
			case !host.IsValid() || host.IsUnspecified() && host.Is6() == ctr.Is6():
				m := mapAny4
				if ctr.Is6() {
					m = mapAny6
				}
				out = append(out, portElem{Map: m, Key: []string{proto, port}, Value: []string{ctr.String(), cport}})
			case host.Is6() == ctr.Is6() && !host.IsUnspecified():
				m := mapHostIP4
				if ctr.Is6() {
					m = mapHostIP6
				}
				out = append(out, portElem{Map: m, Key: []string{host.String(), proto, port}, Value: []string{ctr.String(), cport}})
			}
		}
	}
	return out, nil
}

func (p Paths) portsRecord(id string) string {
	return filepath.Join(p.layout().NetworkRules(), "ports", id+".json")
}

// portsRec is what a container published, and the namespace it was
// attached in (a service's pin or a pod's), by which GC tells whether
// it still runs.
type portsRec struct {
	NetNS string     `json:"netns"`
	Elems []portElem `json:"elements"`
}

func (p Paths) readPorts(id string) (portsRec, error) {
	var rec portsRec
	b, err := os.ReadFile(p.portsRecord(id))
	if errors.Is(err, os.ErrNotExist) {
		return rec, nil
	}
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("%s: %w", p.portsRecord(id), err)
	}
	return rec, nil
}

// publish installs the published ports of container id, in one netlink
// batch (portsnetlink.go) that also deletes what id had before (a re-attach without
// DEL). The record is written first, so a crash after the batch still leaves
// something for DEL; GC sweeps by comment whatever escapes both. The
// bridges of networks with published ports get route_localnet, so that
// DNAT from 127.0.0.0/8 crosses into them.
func (p Paths) publish(ctx context.Context, id, netnsPath string, recs []*Record, atts []Attachment) error {
	var elems []portElem
	for i, a := range atts {
		es, err := portElems(recs[i], a)
		if err != nil {
			return fmt.Errorf("publishing ports of %s: %w", id, err)
		}
		if len(es) > 0 {
			if err := routeLocalnet(recs[i].Bridge); err != nil {
				return fmt.Errorf("publishing ports of %s: %w", id, err)
			}
		}
		elems = append(elems, es...)
	}
	prev, err := p.readPorts(id)
	if err != nil {
		return err
	}
	if len(elems) == 0 {
		if len(prev.Elems) == 0 {
			return nil // nothing to publish or take back
		}
		return p.unpublish(ctx, id)
	}
	if err := writeJSON(p.portsRecord(id), portsRec{NetNS: netnsPath, Elems: elems}); err != nil {
		return err
	}
	if err := setPortElems(id, prev.Elems, elems); err != nil {
		// An element at one of these keys with another value (a container
		// that is gone and was not GCed yet), or ours gone: replace by
		// listing.
		if err := replaceElems(id, elems); err != nil {
			return fmt.Errorf("publishing ports of %s: %w", id, err)
		}
	}
	forgetUDPFlows(elems)
	return nil
}

// forgetUDPFlows deletes the conntrack entries of the UDP host ports of
// elems, as portmap did: a client that kept sending to the port (before
// the container was there, or to its previous address) would otherwise
// stay bound to the old translation until the entry times out. Failures
// only delay that, so they are not errors.
func forgetUDPFlows(elems []portElem) {
	for _, e := range elems {
		if e.Key[len(e.Key)-2] != "udp" {
			continue
		}
		port, err := strconv.ParseUint(e.Key[len(e.Key)-1], 10, 16)
		if err != nil {
			continue
		}
		family := netlink.InetFamily(unix.AF_INET)
		if e.Map == mapAny6 || e.Map == mapHostIP6 {
			family = unix.AF_INET6
		}
		_ = utils.DeleteConntrackEntriesForDstPort(uint16(port), utils.PROTOCOL_UDP, family)
	}
}

// unpublish deletes the published ports of container id. Idempotent.
func (p Paths) unpublish(ctx context.Context, id string) error {
	prev, err := p.readPorts(id)
	if err != nil {
		return err
	}
	if len(prev.Elems) > 0 {
		if err := setPortElems(id, prev.Elems, nil); err != nil {
			if err := replaceElems(id, nil); err != nil {
				return fmt.Errorf("unpublishing ports of %s: %w", id, err)
			}
		}
	}
	if err := os.Remove(p.portsRecord(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// listPortElems lists the elements of every port map; none when the table
// is gone.
func listPortElems(ctx context.Context) ([]*knftables.Element, error) {
	nft, err := knftables.New(knftables.InetFamily, rulesTable)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	var out []*knftables.Element
	for _, m := range portMaps {
		es, err := nft.ListElements(ctx, "map", m.name)
		if knftables.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing nft map %s: %w", m.name, err)
		}
		out = append(out, es...)
	}
	return out, nil
}

// gcPorts deletes the map elements and records of containers gone
// without a DEL (killed): those without a reservation (holds) or whose
// recorded namespace is no longer pinned. Elements without a record (a run
// dir emptied by hand) go too, but only those that DNAT into subnets:
// another berth (another state dir, a test) may share the table.
func (p Paths) gcPorts(ctx context.Context, holds func(id string) bool, subnets []netip.Prefix) error {
	var errs []error
	alive := map[string]bool{}
	des, _ := os.ReadDir(filepath.Dir(p.portsRecord("x")))
	for _, de := range des {
		id := strings.TrimSuffix(de.Name(), ".json")
		rec, err := p.readPorts(id)
		if err == nil && holds(id) && isNetns(rec.NetNS) {
			alive[id] = true
			continue
		}
		errs = append(errs, p.unpublish(ctx, id))
	}
	cur, err := listPortElems(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	tx := newRulesTx()
	for _, c := range cur {
		if c.Comment != nil && alive[*c.Comment] || len(c.Value) == 0 {
			continue
		}
		if a, err := netip.ParseAddr(c.Value[0]); err == nil && slices.ContainsFunc(subnets, func(s netip.Prefix) bool { return s.Contains(a) }) {
			tx.Delete(&knftables.Element{Map: c.Map, Key: c.Key})
		}
	}
	if tx.NumOperations() > 0 {
		if err := runNft(ctx, tx); err != nil {
			errs = append(errs, fmt.Errorf("removing stale published ports: %w", err))
		}
	}
	return errors.Join(errs...)
}

// newRulesTx is a transaction on the rules table. It is only rendered
// (runNft): knftables.New would exec nft two more times to probe it.
func newRulesTx() *knftables.Transaction {
	return knftables.NewFake(knftables.InetFamily, rulesTable).NewTransaction()
}

// runNft runs tx with one exec of `nft -f -`.
func runNft(ctx context.Context, tx *knftables.Transaction) error {
	cmd := exec.CommandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(tx.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// routeLocalnet lets the host's 127.0.0.0/8 traffic be routed into
// bridge (published ports reached through 127.0.0.1). Containers cannot
// use it to reach the host's loopback services: inputRules drops that.
func routeLocalnet(bridge string) error {
	f := filepath.Join("/proc/sys/net/ipv4/conf", bridge, "route_localnet")
	if b, err := os.ReadFile(f); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enabling route_localnet on %s: %w", bridge, err)
	}
	return nil
}
