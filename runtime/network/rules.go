package network

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/coreos/go-iptables/iptables"
	"github.com/mattn/go-shellwords"
)

// Sweeps for iptables state the firewall plugin cannot remove by itself:
// it keeps its per-bridge isolation rules after the last DEL (by design:
// it cannot know whether the bridge is still used). berth's own rules are
// in nftables (syncRules); these sweeps clear what networks attached by
// the firewall plugin (before berth installed rules per network) left.
// Only rules naming a berth bridge or its subnet are ever touched.

// matchWord matches an iptables rule naming word exactly (an interface).
func matchWord(word string) func(string) bool {
	return func(w string) bool { return w == word }
}

// matchSubnet matches a rule naming the subnet or an address (or prefix)
// inside it.
func matchSubnet(subnet string) func(string) bool {
	sn, err := netip.ParsePrefix(subnet)
	if err != nil {
		return func(string) bool { return false }
	}
	return func(w string) bool {
		if p, err := netip.ParsePrefix(w); err == nil {
			return sn.Bits() <= p.Bits() && sn.Contains(p.Addr())
		}
		a, err := netip.ParseAddr(w)
		return err == nil && sn.Contains(a)
	}
}

// deleteRules deletes every iptables filter and nat rule one of whose
// words match accepts.
func deleteRules(match ...func(string) bool) error {
	ipt, err := iptables.New()
	if err != nil {
		return fmt.Errorf("iptables: %w", err)
	}
	var errs []error
	for _, table := range []string{"filter", "nat"} {
		chains, err := ipt.ListChains(table)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing %s chains: %w", table, err))
			continue
		}
		for _, chain := range chains {
			rules, err := ipt.List(table, chain)
			if err != nil {
				continue
			}
			for _, rule := range rules {
				words, err := shellwords.Parse(rule)
				if err != nil || len(words) < 3 || words[0] != "-A" {
					continue
				}
				if !slices.ContainsFunc(words[2:], func(w string) bool {
					return slices.ContainsFunc(match, func(m func(string) bool) bool { return m(w) })
				}) {
					continue
				}
				if err := ipt.Delete(table, chain, words[2:]...); err != nil {
					errs = append(errs, fmt.Errorf("deleting rule %q: %w", rule, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// gcMasquerade removes the bridge plugin's masquerade rules of network
// that belong to no valid attachment (the plugin has no GC of its own, and
// a DEL that found no namespace skipped them). With valid empty it removes
// all of the network's.
func gcMasquerade(network string, valid []types.GCAttachment) error {
	if err := ip.GCIPMasqForNetwork(network, valid); err != nil {
		return fmt.Errorf("removing stale masquerade rules of network %s: %w", network, err)
	}
	return nil
}
