package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/coreos/go-iptables/iptables"
	"github.com/mattn/go-shellwords"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/compose"
)

// GC removes what no loaded project declares any more, after apply has
// stopped the units of removed services:
//   - member reservations of services that left a network;
//   - networks whose project no longer declares them (or whose project is
//     gone) and that nobody is attached to: their bridge, the firewall's
//     isolation rules naming the bridge, host-local's reservations and
//     their record;
//   - through libcni's GC, CNI attachments whose container namespace is
//     gone (a launcher killed mid-way), with their rules and addresses.
//
// Projects whose files failed to load keep everything; with only set, only
// those projects are considered.
func GC(ctx context.Context, p Paths, pluginDir string, entries []compose.Entry, only []string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	unlock, err := p.lock()
	if err != nil {
		return err
	}
	defer unlock()

	loaded := map[string]*compose.Project{} // projects GC may judge
	known := map[string]bool{}              // every project with a config entry
	for _, e := range entries {
		known[e.Name] = true
		if e.Err == nil && e.Project != nil && (len(only) == 0 || slices.Contains(only, e.Name)) {
			loaded[e.Name] = e.Project
		}
	}
	judged := func(project string) (*compose.Project, bool) {
		if pr, ok := loaded[project]; ok {
			return pr, true
		}
		return nil, len(only) == 0 && !known[project]
	}

	recs, err := p.Records()
	if err != nil {
		return err
	}
	var errs []error
	var keep []*Record
	for _, r := range recs {
		ms, err := p.Members(r.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		left := 0
		for _, m := range ms {
			pr, ok := judged(m.Project)
			if !ok || declaresMember(pr, m.Service, r.Name) {
				left++
				continue
			}
			if err := os.Remove(p.memberFile(r.Name, m.ID)); err != nil && !os.IsNotExist(err) {
				errs = append(errs, fmt.Errorf("removing reservation of %s on %s: %w", m.ID, r.Name, err))
				left++
			}
		}
		pr, ok := judged(r.Project)
		if ok && !declaresNetwork(pr, r.Name) && left == 0 && !attached(p, r.Name) {
			if err := removeNetwork(p, r); err != nil {
				errs = append(errs, err)
			} else {
				log.Info("network removed", "network", r.Name, "bridge", r.Bridge)
			}
			continue
		}
		keep = append(keep, r)
	}

	if len(keep) > 0 {
		if err := gcAttachments(ctx, p, pluginDir, keep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func declaresMember(pr *compose.Project, service, network string) bool {
	if pr == nil {
		return false
	}
	if service == PodService {
		key, n, ok := podNetwork(pr)
		return ok && FullName(pr.Name, key, n) == network
	}
	for _, s := range pr.Services {
		if s.Name == service {
			_, ok := s.Networks[network]
			return ok
		}
	}
	return false
}

func declaresNetwork(pr *compose.Project, name string) bool {
	if pr == nil {
		return false
	}
	for k, n := range pr.Networks {
		if !n.External && FullName(pr.Name, k, n) == name {
			return true
		}
	}
	key, n, ok := podNetwork(pr)
	return ok && !n.External && FullName(pr.Name, key, n) == name
}

// attached reports whether libcni's cache holds an attachment to network.
func attached(p Paths, network string) bool {
	des, _ := os.ReadDir(filepath.Join(p.cacheDir(), "results"))
	for _, de := range des {
		if strings.HasPrefix(de.Name(), network+"-") {
			return true
		}
	}
	return false
}

// removeNetwork deletes r's bridge, the isolation rules naming it, its
// host-local reservations and its record.
func removeNetwork(p Paths, r *Record) error {
	var errs []error
	if l, err := netlink.LinkByName(r.Bridge); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting bridge %s of network %s: %w", r.Bridge, r.Name, err))
		}
	}
	errs = append(errs, deleteRulesNaming(r.Bridge))
	if err := os.RemoveAll(filepath.Join(p.ipamDir(), r.Name)); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.RemoveAll(p.networkDir(r.Name)); err != nil {
		return fmt.Errorf("removing record of network %s: %w", r.Name, err)
	}
	return nil
}

// deleteRulesNaming deletes every filter and nat rule that names the
// interface bridge (the firewall plugin's per-bridge isolation rules stay
// behind after the last DEL, by design).
func deleteRulesNaming(bridge string) error {
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
				if err != nil || len(words) < 3 || words[0] != "-A" || !slices.Contains(words, bridge) {
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

// gcAttachments runs libcni's GC on each network: every cached attachment
// whose pinned namespace is gone is deleted with its cached arguments, and
// the plugins drop reservations and rules of anything else not valid.
func gcAttachments(ctx context.Context, p Paths, pluginDir string, recs []*Record) error {
	dir, err := FindPluginDir(pluginDir)
	if err != nil {
		return err
	}
	cni := libcni.NewCNIConfigWithCacheDir([]string{dir}, p.cacheDir(), nil)
	all, err := cni.GetCachedAttachments("")
	if err != nil {
		return fmt.Errorf("reading CNI cache: %w", err)
	}
	var valid []types.GCAttachment
	for _, a := range all {
		// Valid while the namespace it was added to is pinned: a
		// container's under <run>/netns, a pod's under <run>/pods.
		if _, err := os.Stat(a.NetNS); err == nil {
			valid = append(valid, types.GCAttachment{ContainerID: a.ContainerID, IfName: a.IfName})
		}
	}
	var errs []error
	for _, r := range recs {
		list, err := confList(r, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: valid}); err != nil {
			errs = append(errs, fmt.Errorf("garbage-collecting network %s: %w", r.Name, err))
		}
	}
	return errors.Join(errs...)
}
