package network

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"

	"github.com/berth-dev/berth/compose/model"
)

// DefaultPool is where networks without an ipam subnet get a /24 from.
var DefaultPool = netip.MustParsePrefix("10.89.0.0/16")

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// FullName is the berth network name of compose network key of project:
// its name (the compose loader fills in "<project>_<key>" unless `name:`
// sets another, which other projects then join as external), else
// "<project>_<key>"; the referenced name for an external network.
func FullName(project, key string, n model.Network) string {
	if n.External {
		if n.ExternalName != "" {
			return n.ExternalName
		}
		if n.Name != "" {
			return n.Name
		}
		return key
	}
	if n.Name != "" {
		return n.Name
	}
	return project + "_" + key
}

// Prepare gives every networked service of the loaded entries its
// networks: it declares each project network (subnet and gateway from the
// compose ipam settings, else a free /24 of DefaultPool, kept once chosen),
// reserves each service a stable address (ipv4_address, else the address it
// had, else one derived from a hash of its id), and rewrites the services'
// Networks keys to berth network names with IPv4 filled in, so the frozen
// spec holds everything the launcher needs and a changed address changes
// the spec hash. With persist false (berth plan) nothing is written.
//
// A project whose networks cannot be prepared (an external network that
// does not exist, an address outside its subnet …) gets its entry's Err
// set, so the reconciler keeps its running units untouched.
func Prepare(ctx context.Context, p Paths, entries []model.Entry, only []string, persist bool) error {
	unlock := func() {}
	// A lookup (persist false) writes nothing, not even the lock file:
	// without a networks dir there is nothing to read either.
	if _, err := os.Stat(p.networksDir()); persist || err == nil {
		var err error
		if unlock, err = p.lock(); err != nil {
			return err
		}
	}
	defer unlock()
	// Container names are resolved against every project before any entry
	// is dropped for an error of its own.
	var bad []error
	for i := range entries {
		e := &entries[i]
		if e.Err != nil || e.Project == nil || (len(only) > 0 && !slices.Contains(only, e.Name)) {
			bad = append(bad, nil)
			continue
		}
		bad = append(bad, resolveNetnsPeers(entries, e.Project))
	}
	// Projects that join external networks come second, so the project
	// declaring a network is prepared first within one apply.
	for _, external := range []bool{false, true} {
		for i := range entries {
			e := &entries[i]
			if e.Err != nil || e.Project == nil || (len(only) > 0 && !slices.Contains(only, e.Name)) || hasExternal(e.Project) != external {
				continue
			}
			err := bad[i]
			if err == nil {
				err = prepareProject(p, e.Project, persist)
			}
			if err != nil {
				e.Err = fmt.Errorf("%s: networks: %w", e.Path, err)
				e.Project = nil
			}
		}
	}
	return nil
}

// prepareProject allocates one project's networks in named steps: declare
// its networks, list what wants an address, choose addresses (explicit
// ones first), check MACs, then write the reservations and rewrite the
// model, the last two only once everything succeeded.
func prepareProject(p Paths, proj *model.Project, persist bool) error {
	records, err := declareNetworks(p, proj, persist)
	if err != nil {
		return err
	}
	wants, err := membersOf(proj, records)
	if err != nil {
		return err
	}
	if err := chooseAddresses(p, wants); err != nil {
		return err
	}
	if err := checkMACs(p, wants); err != nil {
		return err
	}
	var podPorts []model.Port
	if _, _, ok := podNetwork(proj); ok {
		if podPorts, err = podPublished(proj); err != nil {
			return err
		}
	}
	if persist {
		if err := reserve(p, proj.Name, wants); err != nil {
			return err
		}
	}
	rewrite(proj, wants, podPorts)
	return nil
}

// want is one service (or the pod) that needs an address on one network.
type want struct {
	svc      *model.Service // nil for the pod
	id       string         // member (and CNI container) id
	service  string
	names    []string
	key      string
	rec      *Record
	explicit string
	aliases  []string
	mac      string // mac_address, if set
	addr     netip.Addr
}

// declareNetworks returns the record of each network the project uses, by
// compose key, the pod's default network included.
func declareNetworks(p Paths, proj *model.Project, persist bool) (map[string]*Record, error) {
	records := map[string]*Record{}
	keys := make([]string, 0, len(proj.Networks))
	for k := range proj.Networks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, err := declare(p, proj.Name, k, proj.Networks[k], persist)
		if err != nil {
			return nil, err
		}
		records[k] = r
	}
	// The pod of a Kubernetes project is attached once, to the project's
	// default network; its containers share its namespace and address.
	if podKey, podNet, ok := podNetwork(proj); ok {
		if _, ok := records[podKey]; !ok {
			r, err := declare(p, proj.Name, podKey, podNet, persist)
			if err != nil {
				return nil, err
			}
			records[podKey] = r
		}
	}
	return records, nil
}

// membersOf lists every attachment that needs an address, explicit
// addresses first so they are reserved before any derived one is chosen.
func membersOf(proj *model.Project, records map[string]*Record) ([]*want, error) {
	var wants []*want
	for i := range proj.Services {
		svc := &proj.Services[i]
		if svc.NetworkMode != "" || len(svc.Networks) == 0 {
			continue
		}
		for k, att := range svc.Networks {
			r, ok := records[k]
			if !ok {
				return nil, fmt.Errorf("service %s: network %q is not declared in the top-level networks", svc.Name, k)
			}
			wants = append(wants, &want{svc: svc, id: svc.ID(), service: svc.Name, names: memberNames(svc, att),
				key: k, rec: r, explicit: att.IPv4, aliases: att.Aliases, mac: att.MAC})
		}
	}
	if podKey, _, ok := podNetwork(proj); ok {
		wants = append(wants, &want{id: PodID(proj.Name), service: PodService, names: podNames(proj.Pod), key: podKey, rec: records[podKey]})
	}
	sort.SliceStable(wants, func(i, j int) bool {
		if (wants[i].explicit != "") != (wants[j].explicit != "") {
			return wants[i].explicit != ""
		}
		if wants[i].service != wants[j].service {
			return wants[i].service < wants[j].service
		}
		return wants[i].key < wants[j].key
	})
	return wants, nil
}

// chooseAddresses sets each want's address against the reservations of
// its network and those chosen before it.
func chooseAddresses(p Paths, wants []*want) error {
	taken := map[string]map[netip.Addr]string{} // network → address → id
	for _, w := range wants {
		if _, ok := taken[w.rec.Name]; !ok {
			t, err := takenOn(p, w.rec)
			if err != nil {
				return err
			}
			taken[w.rec.Name] = t
		}
		addr, err := address(p, w.rec, w.id, w.explicit, taken[w.rec.Name])
		if err != nil {
			return fmt.Errorf("service %s: network %s: %w", w.service, w.key, err)
		}
		taken[w.rec.Name][addr] = w.id
		w.addr = addr
	}
	return nil
}

// checkMACs refuses a MAC address another member of the network has.
func checkMACs(p Paths, wants []*want) error {
	macs := map[string]map[string]string{} // network → MAC → id
	for _, w := range wants {
		if _, ok := macs[w.rec.Name]; !ok {
			m, err := macsOn(p, w.rec)
			if err != nil {
				return err
			}
			macs[w.rec.Name] = m
		}
		mac := memberMAC(&Member{IP: w.addr.String(), MAC: w.mac})
		if owner, ok := macs[w.rec.Name][mac]; ok && owner != w.id {
			return fmt.Errorf("service %s: network %s: MAC address %s is already used by %s", w.service, w.key, mac, owner)
		}
		macs[w.rec.Name][mac] = w.id
	}
	return nil
}

// reserve writes each want's reservation.
func reserve(p Paths, project string, wants []*want) error {
	for _, w := range wants {
		m := &Member{ID: w.id, Project: project, Service: w.service, IP: w.addr.String(), MAC: w.mac, Names: w.names}
		if err := writeJSON(p.memberFile(w.rec.Name, m.ID), m); err != nil {
			return err
		}
	}
	return nil
}

// rewrite gives the services' (and the pod's) Networks berth network names
// as keys with the chosen addresses, so the frozen spec holds everything
// the launcher needs and a changed address changes the spec hash.
func rewrite(proj *model.Project, wants []*want, podPorts []model.Port) {
	for i := range proj.Services {
		svc := &proj.Services[i]
		if svc.NetworkMode != "" || len(svc.Networks) == 0 {
			continue
		}
		out := make(map[string]model.NetworkAttachment, len(svc.Networks))
		for _, w := range wants {
			if w.svc == svc {
				out[w.rec.Name] = model.NetworkAttachment{Aliases: w.aliases, IPv4: w.addr.String(), MAC: w.mac}
			}
		}
		svc.Networks = out
	}
	if _, _, ok := podNetwork(proj); ok {
		for _, w := range wants {
			if w.svc == nil {
				proj.Pod.Networks = map[string]model.NetworkAttachment{w.rec.Name: {IPv4: w.addr.String()}}
			}
		}
		proj.Pod.Ports = podPorts
	}
}

// memberNames are the names peers resolve to a service on one network.
func memberNames(svc *model.Service, att model.NetworkAttachment) []string {
	names := []string{svc.Name}
	if svc.ContainerName != "" {
		names = append(names, svc.ContainerName)
	}
	names = append(names, att.Aliases...)
	names = append(names, svc.ID())
	var out []string
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// declare returns the record of compose network key, creating or updating
// it for networks the project owns.
func declare(p Paths, project, key string, n model.Network, persist bool) (*Record, error) {
	name := FullName(project, key, n)
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("network %q: invalid name %q (letters, digits, _ . - only)", key, name)
	}
	old, _ := p.ReadRecord(name)
	if n.External {
		if old == nil {
			return nil, fmt.Errorf("network %q: external network %q does not exist; declare it in another project first", key, name)
		}
		return old, nil
	}
	if old != nil && old.Project != project {
		return nil, fmt.Errorf("network %q: network %s already belongs to project %s", key, name, old.Project)
	}
	r := &Record{Name: name, Project: project, Bridge: bridgeName(name), Internal: n.Internal}
	var subnet netip.Prefix
	switch {
	case n.Subnet != "":
		s, err := netip.ParsePrefix(n.Subnet)
		if err != nil || !s.Addr().Is4() || s.Bits() > 30 {
			return nil, fmt.Errorf("network %q: ipam subnet %q is not an IPv4 CIDR of /30 or larger", key, n.Subnet)
		}
		subnet = s.Masked()
	case old != nil:
		subnet = netip.MustParsePrefix(old.Subnet)
	default:
		s, err := freeSubnet(p, name)
		if err != nil {
			return nil, fmt.Errorf("network %q: %w", key, err)
		}
		subnet = s
	}
	gw := subnet.Addr().Next()
	if n.Gateway != "" {
		g, err := netip.ParseAddr(n.Gateway)
		if err != nil || !subnet.Contains(g) {
			return nil, fmt.Errorf("network %q: ipam gateway %q is not an address in %s", key, n.Gateway, subnet)
		}
		gw = g
	}
	r.Subnet, r.Gateway = subnet.String(), gw.String()
	if err := overlaps(p, r); err != nil {
		return nil, fmt.Errorf("network %q: %w", key, err)
	}
	if persist && (old == nil || *old != *r) {
		if err := writeJSON(p.recordFile(name), r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// bridgeName is "berth" + 8 hex digits of the network name's hash: Linux
// interface names have at most 15 characters.
func bridgeName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return fmt.Sprintf("berth%x", sum[:4])
}

// freeSubnet picks a /24 of DefaultPool no other network uses, starting at
// one derived from name so that it rarely moves between hosts.
func freeSubnet(p Paths, name string) (netip.Prefix, error) {
	recs, err := p.Records()
	if err != nil {
		return netip.Prefix{}, err
	}
	n := 1 << (24 - DefaultPool.Bits())
	start := int(hash32(name) % uint32(n))
	base := DefaultPool.Addr().As4()
	for i := 0; i < n; i++ {
		k := (start + i) % n
		b := base
		b[1] += byte(k >> 8)
		b[2] += byte(k)
		cand := netip.PrefixFrom(netip.AddrFrom4(b), 24)
		used := false
		for _, r := range recs {
			if s, err := netip.ParsePrefix(r.Subnet); err == nil && r.Name != name && s.Overlaps(cand) {
				used = true
				break
			}
		}
		if !used {
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 left in %s", DefaultPool)
}

// overlaps refuses a subnet that another berth network already uses.
func overlaps(p Paths, r *Record) error {
	recs, err := p.Records()
	if err != nil {
		return err
	}
	s := netip.MustParsePrefix(r.Subnet)
	for _, o := range recs {
		if o.Name == r.Name {
			continue
		}
		if other, err := netip.ParsePrefix(o.Subnet); err == nil && other.Overlaps(s) {
			return fmt.Errorf("subnet %s overlaps network %s (%s)", s, o.Name, other)
		}
	}
	return nil
}

// takenOn is every address reserved on network r, by member id.
func takenOn(p Paths, r *Record) (map[netip.Addr]string, error) {
	ms, err := p.Members(r.Name)
	if err != nil {
		return nil, err
	}
	t := map[netip.Addr]string{}
	for _, m := range ms {
		if a, err := netip.ParseAddr(m.IP); err == nil {
			t[a] = m.ID
		}
	}
	return t, nil
}

// address chooses container (or pod) id's address on r: the explicit one, else the one it
// already has, else the first free one from a hash of its id.
func address(p Paths, r *Record, id, explicit string, taken map[netip.Addr]string) (netip.Addr, error) {
	subnet := netip.MustParsePrefix(r.Subnet)
	gw := netip.MustParseAddr(r.Gateway)
	free := func(a netip.Addr) bool {
		owner, ok := taken[a]
		return subnet.Contains(a) && a != gw && a != subnet.Addr() && a != broadcast(subnet) && (!ok || owner == id)
	}
	if explicit != "" {
		a, err := netip.ParseAddr(explicit)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("ipv4_address %q is not an IPv4 address", explicit)
		}
		if !subnet.Contains(a) || a == gw || a == subnet.Addr() || a == broadcast(subnet) {
			return netip.Addr{}, fmt.Errorf("ipv4_address %s is not a usable address of %s (gateway %s)", a, subnet, gw)
		}
		if owner, ok := taken[a]; ok && owner != id {
			return netip.Addr{}, fmt.Errorf("ipv4_address %s is already used by %s", a, owner)
		}
		return a, nil
	}
	var m Member
	if err := readJSON(p.memberFile(r.Name, id), &m); err == nil {
		if a, err := netip.ParseAddr(m.IP); err == nil && free(a) {
			return a, nil
		}
	}
	size := uint32(1) << (32 - subnet.Bits())
	base := binary.BigEndian.Uint32(subnet.Addr().AsSlice())
	start := hash32(id) % size
	for i := uint32(0); i < size; i++ {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+(start+i)%size)
		if a := netip.AddrFrom4(b); free(a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address left in %s", subnet)
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

func hash32(s string) uint32 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint32(sum[:4])
}
