package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"sigs.k8s.io/knftables"
)

// rulesTable is the nftables table (family inet) that holds every berth
// network's own rules: isolation between berth bridges, masquerading and
// the DNAT of published ports. They are made per network, not per
// container (the bridge plugin's ipMasq, the firewall and the portmap
// plugins did that on every ADD, with a dozen execs); a container only
// adds its published ports, as map elements (publish).
const rulesTable = "berth"

// rulesMarkerSuffix names the markers of networks whose rules are
// installed (rulesMarker). It changes with what syncRules installs, so a
// berth upgraded in place installs its rules (the port maps) again before
// its first ADD instead of trusting an older berth's marker.
const rulesMarkerSuffix = ".ports.json"

// syncRules replaces the rules of the rules table with the rules of recs,
// in one nft transaction, keeping the published ports (map elements of
// the containers); with no records it deletes the table. Callers hold the
// network lock.
//
// Per network: traffic routed from its bridge into another berth bridge is
// dropped (as the firewall plugin's same-bridge ingress policy did), and,
// unless it is internal, traffic from its subnet to anything outside it
// but multicast is masqueraded (as the bridge plugin's ipMasq did), and
// published ports are DNATed (portRules, portMasquerade).
// Forwarding itself is not accepted here: an accept in this table cannot
// overrule another table's drop policy.
func syncRules(ctx context.Context, recs []*Record) error {
	nft, err := knftables.New(knftables.InetFamily, rulesTable)
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tx := nft.NewTransaction()
	if len(recs) == 0 {
		// add + delete: the table goes whether it existed or not.
		tx.Add(&knftables.Table{})
		tx.Delete(&knftables.Table{})
	} else if err := tableRules(tx, recs); err != nil {
		return err
	}
	if err := nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("installing the network rules (nft table inet %s): %w", rulesTable, err)
	}
	return nil
}

// tableRules adds the table with every network's rules to tx, flushing
// the chains and the bridges set first: the port maps and their elements
// stay.
func tableRules(tx *knftables.Transaction, recs []*Record) error {
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("berth networks: isolation, masquerading, published ports")})
	tx.Add(&knftables.Set{Name: "bridges", Type: "ifname", Comment: knftables.PtrTo("bridges of berth networks")})
	tx.Flush(&knftables.Set{Name: "bridges"})
	tx.Add(&knftables.Chain{Name: "forward", Type: knftables.PtrTo(knftables.FilterType),
		Hook: knftables.PtrTo(knftables.ForwardHook), Priority: knftables.PtrTo(knftables.FilterPriority)})
	tx.Add(&knftables.Chain{Name: "postrouting", Type: knftables.PtrTo(knftables.NATType),
		Hook: knftables.PtrTo(knftables.PostroutingHook), Priority: knftables.PtrTo(knftables.SNATPriority)})
	// route_localnet (publish) would let containers reach the host's
	// loopback services; only replies to DNATed traffic may pass.
	tx.Add(&knftables.Chain{Name: "input", Type: knftables.PtrTo(knftables.FilterType),
		Hook: knftables.PtrTo(knftables.InputHook), Priority: knftables.PtrTo(knftables.FilterPriority)})
	for _, c := range []string{"forward", "postrouting", "input"} {
		tx.Flush(&knftables.Chain{Name: c})
	}
	tx.Add(&knftables.Rule{Chain: "input", Rule: "iifname @bridges ip daddr 127.0.0.0/8 ct status ! dnat drop"})
	portRules(tx)
	for _, r := range recs {
		br := `"` + r.Bridge + `"`
		tx.Add(&knftables.Element{Set: "bridges", Key: []string{br}})
		tx.Add(&knftables.Rule{Chain: "forward",
			Rule:    knftables.Concat("iifname", br, "oifname", "!=", br, "oifname", "@bridges", "drop"),
			Comment: knftables.PtrTo(r.Name)})
		if r.Internal {
			continue
		}
		if err := portMasquerade(tx, r); err != nil {
			return err
		}
		if r.NoMasquerade {
			continue
		}
		for _, pool := range r.Pools() {
			subnet, err := netip.ParsePrefix(pool.Subnet)
			if err != nil {
				return fmt.Errorf("network %s: subnet %q: %w", r.Name, pool.Subnet, err)
			}
			fam, multicast := "ip", "224.0.0.0/4"
			if subnet.Addr().Is6() {
				fam, multicast = "ip6", "ff00::/8"
			}
			tx.Add(&knftables.Rule{Chain: "postrouting",
				Rule: knftables.Concat(fam, "saddr", subnet.Masked().String(), fam, "daddr", "!=", subnet.Masked().String(),
					fam, "daddr", "!=", multicast, "masquerade"),
				Comment: knftables.PtrTo(r.Name)})
		}
	}
	return nil
}

// ensureNetworks makes the networks of recs ready for ADDs without the
// network lock: unless each is ready already, it installs the rules of
// every network (syncRules) and marks them installed. The caller holds
// the lock and runs its ADDs under it: the first ADD on a network creates
// the bridge and its gateway address, which later ADDs only find.
func (p Paths) ensureNetworks(ctx context.Context, recs []*Record) error {
	if p.networksReady(recs) {
		return nil
	}
	all, err := p.Records()
	if err != nil {
		return err
	}
	if err := syncRules(ctx, all); err != nil {
		return err
	}
	for _, r := range recs {
		if err := writeJSON(p.rulesMarker(r.Name), r); err != nil {
			return err
		}
	}
	return nil
}

// networksReady reports whether every network of recs had its rules
// installed (marker in the run dir, which a reboot empties with the
// bridges) and a first ADD that completed: its bridge carries the
// gateway address.
func (p Paths) networksReady(recs []*Record) bool {
	for _, r := range recs {
		if _, err := os.Stat(p.rulesMarker(r.Name)); err != nil {
			return false
		}
		l, err := netlink.LinkByName(r.Bridge)
		if err != nil {
			return false
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return false
		}
		gw, _ := netip.ParseAddr(r.Gateway)
		found := false
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == gw {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// removeRules drops network name's rules: the table is rebuilt from the
// records left (rest), and deleted with the last one.
func (p Paths) removeRules(ctx context.Context, name string, rest []*Record) error {
	var errs []error
	if err := syncRules(ctx, rest); err != nil {
		errs = append(errs, err)
	}
	if err := os.Remove(p.rulesMarker(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
