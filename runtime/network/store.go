// Package network gives containers their network: one CNI bridge per berth
// network (host-local IPAM; isolation, masquerading and published ports in
// berth's own nftables table), deterministic
// addresses recorded at apply time, /etc/hosts and resolv.conf files kept
// current by apply, and garbage collection of attachments and networks
// nobody declares any more.
//
// Apply (Prepare) writes what the launcher needs under the state dir:
//
//	<state>/networks/<name>/network.json        the network (Record)
//	<state>/networks/<name>/members/<id>.json   one per attached container (Member)
//
// The launcher (Attach, Detach) keeps its volatile state under the run dir:
//
//	<run>/netns/<id>          the container's network namespace, pinned
//	<run>/cni/cache           libcni's cache: DEL gets exactly ADD's arguments
//	<run>/cni/ipam            host-local reservations (gone at reboot)
package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
)

// Record is one berth network as apply declared it.
type Record struct {
	// Name is the berth network name: "<project>_<compose name>", or the
	// name an external network refers to.
	Name string `json:"name"`
	// Project declares the network; external users only join it.
	Project string `json:"project"`
	Bridge  string `json:"bridge"`
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
	// Internal networks get no default route and no masquerading.
	Internal bool `json:"internal,omitempty"`
	// More are the further subnets, IPv4 or IPv6 (ipam.config's others,
	// enable_ipv6's), each with its gateway; members get one address on each.
	More []model.Pool `json:"more,omitempty"`
	// MTU of the bridge and the veths; 0 is the kernel's default.
	MTU int `json:"mtu,omitempty"`
	// NoMasquerade: traffic leaves with the containers' own addresses.
	NoMasquerade bool `json:"no_masquerade,omitempty"`
	// At is where the declaring project declares it (file:line).
	At string `json:"at,omitempty"`
	// UnitFile: `generate systemd` wrote units of Project to disk. They run
	// without the agent and with no config entry, so GC must not take the
	// project for gone (MarkUnitFile).
	UnitFile bool `json:"unit_file,omitempty"`
}

// Pools are all of r's subnets: the first IPv4 one, then More.
func (r *Record) Pools() []model.Pool {
	return append([]model.Pool{{Subnet: r.Subnet, Gateway: r.Gateway}}, r.More...)
}

// IPv6 reports whether r has an IPv6 subnet.
func (r *Record) IPv6() bool {
	for _, p := range r.More {
		if s, err := netip.ParsePrefix(p.Subnet); err == nil && s.Addr().Is6() {
			return true
		}
	}
	return false
}

// Addrs are all of m's addresses: IP first, then More.
func (m *Member) Addrs() []string { return append([]string{m.IP}, m.More...) }

// MarkUnitFile flags every network of project as used by unit files.
func (p Paths) MarkUnitFile(project string) error {
	unlock, err := p.lock()
	if err != nil {
		return err
	}
	defer unlock()
	recs, err := p.Records()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Project == project && !r.UnitFile {
			r.UnitFile = true
			if err := writeJSON(p.recordFile(r.Name), r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Member is a container's reservation on a network: its address and every
// name peers resolve to it.
type Member struct {
	ID      string `json:"id"` // container id, <project>-<service>
	Project string `json:"project"`
	Service string `json:"service"`
	IP      string `json:"ip"`
	// More are its addresses on the network's further subnets (Record.More).
	More []string `json:"more,omitempty"`
	MAC  string   `json:"mac,omitempty"` // mac_address; empty: derived from IP
	// Ports are the host ports it publishes ("0.0.0.0:80/tcp"): the
	// service keeps them against a newcomer claiming them.
	Ports []string `json:"ports,omitempty"`
	Names []string `json:"names"` // service name, container_name, aliases, hostname
}

// Paths names berth's network files.
type Paths struct {
	StateDir string
	RunDir   string
}

func (p Paths) networksDir() string           { return p.layout().Networks() }
func (p Paths) networkDir(name string) string { return filepath.Join(p.networksDir(), name) }
func (p Paths) recordFile(name string) string {
	return filepath.Join(p.networkDir(name), "network.json")
}
func (p Paths) membersDir(name string) string { return filepath.Join(p.networkDir(name), "members") }
func (p Paths) memberFile(name, id string) string {
	return filepath.Join(p.membersDir(name), id+".json")
}

// NetnsDir holds the pinned network namespaces of containers and pods.
func (p Paths) NetnsDir() string { return p.layout().Netns() }

// NetnsPath is where the network namespace of container (or pod) id is pinned.
func (p Paths) NetnsPath(id string) string { return filepath.Join(p.NetnsDir(), id) }

func (p Paths) cacheDir() string { return p.layout().CNICache() }
func (p Paths) ipamDir() string  { return p.layout().IPAM() }
func (p Paths) rulesMarker(name string) string {
	return filepath.Join(p.layout().NetworkRules(), name+rulesMarkerSuffix)
}

func (p Paths) layout() paths.Layout { return paths.New("", p.StateDir, p.RunDir) }

// ReadRecord reads network name's record.
func (p Paths) ReadRecord(name string) (*Record, error) {
	var r Record
	if err := readJSON(p.recordFile(name), &r); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("network %q does not exist (no project declares it; run berth apply): %w", name, err)
		}
		return nil, err
	}
	return &r, nil
}

// Records lists every network record, sorted by name.
func (p Paths) Records() ([]*Record, error) {
	des, err := os.ReadDir(p.networksDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	var out []*Record
	for _, de := range des {
		if !de.IsDir() {
			continue
		}
		r, err := p.ReadRecord(de.Name())
		if err != nil {
			continue // a half-written network dir is GC's business
		}
		out = append(out, r)
	}
	return out, nil
}

// Members lists the members of network name, sorted by id.
func (p Paths) Members(name string) ([]*Member, error) {
	des, err := os.ReadDir(p.membersDir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing members of network %s: %w", name, err)
	}
	var out []*Member
	for _, de := range des {
		if filepath.Ext(de.Name()) != ".json" {
			continue
		}
		var m Member
		if err := readJSON(filepath.Join(p.membersDir(name), de.Name()), &m); err != nil {
			return nil, err
		}
		out = append(out, &m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path atomically (paths.WriteFile), creating its directory.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return paths.WriteFile(path, append(b, '\n'), 0o600)
}

// lock takes berth's network lock (an flock on <state>/networks/.lock), so
// concurrent applies never hand out one address twice. Unlock with the
// returned function.
func (p Paths) lock() (func(), error) {
	if err := os.MkdirAll(p.networksDir(), 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", p.networksDir(), err)
	}
	unlock, err := paths.Lock(context.Background(), filepath.Join(p.networksDir(), ".lock"), paths.Exclusive)
	if err != nil {
		return nil, fmt.Errorf("taking network lock: %w", err)
	}
	return unlock, nil
}
