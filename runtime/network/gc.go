package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/compose/model"
)

// GC removes what no loaded project declares any more, after apply (or an
// agent reconcile) has stopped the units of removed services:
//   - member reservations of services that left a network;
//   - stale CNI attachments: those whose namespace is gone (a launcher or
//     a cleanup killed mid-way) or whose container holds no reservation on
//     the network any more. Each is deleted with the arguments its ADD had
//     (libcni's cache), in a scratch namespace when its own is gone, so
//     portmap, masquerade and firewall rules and the address all go;
//   - namespace pins of containers that hold no reservation anywhere;
//   - published ports (map elements, publish) of containers without a
//     reservation or whose namespace (as the ports record names it) is
//     no longer pinned;
//   - networks whose project no longer declares them (or whose project is
//     gone) and that nobody is attached to: their bridge, the firewall's
//     isolation rules naming the bridge, every rule naming their subnet,
//     host-local's reservations and their record;
//   - on the networks that stay, libcni GC with the valid attachments
//     (host-local drops reservations nobody holds) and the masquerade
//     rules of attachments that are not valid.
//
// Running containers keep their attachments: each holds a reservation and
// its pinned namespace. Projects whose files failed to load keep
// everything; with only set, only those projects are considered.
func GC(ctx context.Context, p Paths, pluginDir string, entries []model.Entry, only []string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	unlock, err := p.lock()
	if err != nil {
		return err
	}
	defer unlock()

	loaded := map[string]*model.Project{} // projects GC may judge
	known := map[string]bool{}            // every project with a config entry
	for _, e := range entries {
		known[e.Name] = true
		if e.Err == nil && e.Project != nil && (len(only) == 0 || slices.Contains(only, e.Name)) {
			loaded[e.Name] = e.Project
		}
	}
	judged := func(project string) (*model.Project, bool) {
		if pr, ok := loaded[project]; ok {
			return pr, true
		}
		return nil, len(only) == 0 && !known[project]
	}

	recs, err := p.Records()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.UnitFile {
			known[r.Project] = true
		}
	}
	var errs []error
	members := map[string]map[string]bool{} // network → member ids
	holders := map[string]bool{}            // ids with a reservation somewhere
	for _, r := range recs {
		ms, err := p.Members(r.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		members[r.Name] = map[string]bool{}
		for _, m := range ms {
			pr, ok := judged(m.Project)
			if ok && !declaresMember(pr, m.Service, r.Name) && !p.oneOffRunning(m.ID) {
				err := os.Remove(p.memberFile(r.Name, m.ID))
				if err == nil || os.IsNotExist(err) {
					log.Debug("network reservation released", "network", r.Name, "container", m.ID, "ip", m.IP)
					continue
				}
				errs = append(errs, fmt.Errorf("removing reservation of %s on %s: %w", m.ID, r.Name, err))
			}
			members[r.Name][m.ID] = true
			holders[m.ID] = true
		}
	}

	dir, err := FindPluginDir(pluginDir)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	n := New(p, dir, log)
	valid, err := n.gcStale(ctx, members)
	if err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, gcPins(p, holders, log))
	// Published ports of containers that are gone: those of stale
	// attachments went with their DEL, these escaped it (a crash between
	// nft and the libcni cache, or a cache lost).
	var subnets []netip.Prefix
	for _, r := range recs {
		for _, pool := range r.Pools() {
			if s, err := netip.ParsePrefix(pool.Subnet); err == nil {
				subnets = append(subnets, s)
			}
		}
	}
	errs = append(errs, p.gcPorts(ctx, func(id string) bool { return holders[id] }, subnets))

	for _, r := range recs {
		pr, ok := judged(r.Project)
		if ok && !declaresNetwork(pr, r.Name) && len(members[r.Name]) == 0 && !attached(p, r.Name) {
			if err := removeNetwork(ctx, p, r); err != nil {
				errs = append(errs, err)
			} else {
				log.Info("network removed", "network", r.Name, "bridge", r.Bridge)
			}
			continue
		}
		errs = append(errs, n.gcNetwork(ctx, r, valid))
	}
	return errors.Join(errs...)
}

// gcStale deletes every cached attachment that is not valid: its namespace
// is pinned and its container holds a reservation on the network. It
// returns the valid ones.
func (n *Networker) gcStale(ctx context.Context, members map[string]map[string]bool) ([]types.GCAttachment, error) {
	all, err := n.cni.GetCachedAttachments("")
	if err != nil {
		return nil, fmt.Errorf("reading CNI cache: %w", err)
	}
	var valid []types.GCAttachment
	var errs []error
	for _, a := range all {
		if isNetns(a.NetNS) && members[a.Network][a.ContainerID] {
			valid = append(valid, types.GCAttachment{ContainerID: a.ContainerID, IfName: a.IfName})
			continue
		}
		if err := n.delCached(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("removing stale attachment: %w", err))
			continue
		}
		n.log.Info("stale network attachment removed", "container", a.ContainerID, "network", a.Network, "interface", a.IfName)
	}
	return valid, errors.Join(errs...)
}

// gcNetwork runs libcni's GC on a network that stays (host-local releases
// addresses no valid attachment holds) and removes the masquerade rules of
// attachments that are not valid, which the bridge plugin's missing GC
// leaves behind.
func (n *Networker) gcNetwork(ctx context.Context, r *Record, valid []types.GCAttachment) error {
	list, err := confList(r, n.Paths)
	if err != nil {
		return err
	}
	var errs []error
	if err := n.cni.GCNetworkList(ctx, list, &libcni.GCArgs{ValidAttachments: valid}); err != nil {
		errs = append(errs, fmt.Errorf("garbage-collecting network %s: %w", r.Name, err))
	}
	if !r.Internal {
		errs = append(errs, gcMasquerade(r.Name, valid))
	}
	return errors.Join(errs...)
}

// gcPins removes the namespace pins of containers that hold no reservation
// on any network (their units are gone; a killed cleanup left the pin).
// Scratch pins (dot names) belong to DELs in progress.
func gcPins(p Paths, holders map[string]bool, log *slog.Logger) error {
	des, err := os.ReadDir(p.NetnsDir())
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("listing netns pins: %w", err)
	}
	var errs []error
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") || holders[de.Name()] {
			continue
		}
		if err := RemoveNetns(p.NetnsPath(de.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("stale network namespace pin removed", "container", de.Name())
	}
	return errors.Join(errs...)
}

// declaresMember reports whether pr's service is on network. Its Networks
// keys are berth network names once Prepare ran, compose keys before; both
// are understood, so GC never drops a running service's reservation (and
// with it, its attachment) because its caller loaded without Prepare.
func declaresMember(pr *model.Project, service, network string) bool {
	if pr == nil {
		return false
	}
	if model.IsPodService(service) {
		key, n, ok := podNetwork(pr)
		return ok && FullName(pr.Name, key, n) == network &&
			slices.ContainsFunc(pr.Pods, func(p *model.Pod) bool { return !p.HostNetwork && p.Service() == service })
	}
	for _, s := range pr.Services {
		if s.Name != service {
			continue
		}
		for k := range s.Networks {
			if n, ok := pr.Networks[k]; k == network || ok && FullName(pr.Name, k, n) == network {
				return true
			}
		}
		return false
	}
	return false
}

func declaresNetwork(pr *model.Project, name string) bool {
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

// removeNetwork deletes r's bridge, the rules naming it or its subnet
// (isolation, forwarding, masquerade: its nftables rules, and what the
// firewall and bridge plugins made before those), its host-local
// reservations and its record.
func removeNetwork(ctx context.Context, p Paths, r *Record) error {
	var errs []error
	if l, err := netlink.LinkByName(r.Bridge); err == nil {
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting bridge %s of network %s: %w", r.Bridge, r.Name, err))
		}
	}
	errs = append(errs, deleteRules(matchWord(r.Bridge), matchSubnet(r.Subnet)))
	if !r.Internal {
		errs = append(errs, gcMasquerade(r.Name, nil))
	}
	if err := os.RemoveAll(filepath.Join(p.ipamDir(), r.Name)); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.RemoveAll(p.networkDir(r.Name)); err != nil {
		return fmt.Errorf("removing record of network %s: %w", r.Name, err)
	}
	rest, err := p.Records()
	if err != nil {
		return err
	}
	return p.removeRules(ctx, r.Name, rest)
}
