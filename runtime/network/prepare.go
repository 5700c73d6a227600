package network

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"reflect"
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
	// The host's routes, read once: no subnet may shadow one.
	routes, err := hostRoutes()
	if err != nil {
		return err
	}
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
	// A host port two services publish, or a host process holds, fails
	// the newcomer's entry before anything is reserved.
	checkPorts(entries, func(i int) bool { return len(only) == 0 || slices.Contains(only, entries[i].Name) }, heldPorts(p))
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
				err = prepareProject(p, e.Project, routes, persist)
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
func prepareProject(p Paths, proj *model.Project, routes []hostRoute, persist bool) error {
	records, err := declareNetworks(p, proj, routes, persist)
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
	for _, w := range wants {
		if w.pod != nil {
			if w.podPorts, err = podPublished(proj, w.pod); err != nil {
				return err
			}
		}
	}
	if persist {
		if err := reserve(p, proj.Name, wants); err != nil {
			return err
		}
	}
	rewrite(proj, wants)
	return nil
}

// want is one service (or the pod) that needs an address on one network.
type want struct {
	svc      *model.Service // nil for a pod
	pod      *model.Pod     // nil for a service
	podPorts []model.Port   // the pod's hostPorts

	id        string // member (and CNI container) id
	service   string
	names     []string
	key       string
	rec       *Record
	explicit  string // ipv4_address
	explicit6 string // ipv6_address
	aliases   []string
	mac       string // mac_address, if set
	att       model.NetworkAttachment
	addr      netip.Addr   // on the network's first (IPv4) subnet
	more      []netip.Addr // on each of Record.More
}

// declareNetworks returns the record of each network the project uses, by
// compose key, the pod's default network included.
func declareNetworks(p Paths, proj *model.Project, routes []hostRoute, persist bool) (map[string]*Record, error) {
	records := map[string]*Record{}
	keys := make([]string, 0, len(proj.Networks))
	for k := range proj.Networks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, err := declare(p, proj.Name, k, proj.Networks[k], routes, persist)
		if err != nil {
			return nil, err
		}
		records[k] = r
	}
	// The pod of a Kubernetes project is attached once, to the project's
	// default network; its containers share its namespace and address.
	if podKey, podNet, ok := podNetwork(proj); ok {
		if _, ok := records[podKey]; !ok {
			r, err := declare(p, proj.Name, podKey, podNet, routes, persist)
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
				key: k, rec: r, explicit: att.IPv4, explicit6: att.IPv6, aliases: att.Aliases, mac: att.MAC, att: att})
		}
	}
	if podKey, _, ok := podNetwork(proj); ok {
		for _, pod := range proj.Pods {
			if !pod.HostNetwork {
				wants = append(wants, &want{pod: pod, id: PodID(pod.Key(proj.Name)), service: pod.Service(), names: podNames(pod), key: podKey, rec: records[podKey]})
			}
		}
	}
	sort.SliceStable(wants, func(i, j int) bool {
		if ei, ej := wants[i].explicit != "" || wants[i].explicit6 != "", wants[j].explicit != "" || wants[j].explicit6 != ""; ei != ej {
			return ei
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
		addrs, err := addresses(p, w, taken[w.rec.Name])
		if err != nil {
			return fmt.Errorf("service %s: network %s: %w", w.service, w.key, err)
		}
		for _, a := range addrs {
			taken[w.rec.Name][a] = w.id
		}
		w.addr, w.more = addrs[0], addrs[1:]
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
		m := &Member{ID: w.id, Project: project, Service: w.service, IP: w.addr.String(), More: addrStrings(w.more), MAC: w.mac, Names: w.names}
		if w.svc != nil {
			m.Ports = portsOf(w.svc.Ports)
		} else {
			m.Ports = portsOf(w.podPorts)
		}
		if err := writeJSON(p.memberFile(w.rec.Name, m.ID), m); err != nil {
			return err
		}
	}
	return nil
}

// rewrite gives the services' (and the pod's) Networks berth network names
// as keys with the chosen addresses, so the frozen spec holds everything
// the launcher needs and a changed address changes the spec hash.
func rewrite(proj *model.Project, wants []*want) {
	for i := range proj.Services {
		svc := &proj.Services[i]
		if svc.NetworkMode != "" || len(svc.Networks) == 0 {
			continue
		}
		out := make(map[string]model.NetworkAttachment, len(svc.Networks))
		for _, w := range wants {
			if w.svc == svc {
				out[w.rec.Name] = attachment(w)
			}
		}
		svc.Networks = out
	}
	for _, w := range wants {
		if w.pod != nil {
			w.pod.Networks = map[string]model.NetworkAttachment{w.rec.Name: attachment(w)}
			w.pod.Ports = w.podPorts
		}
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
// it for networks the project owns. A subnet that overlaps another berth
// network's or a host route is refused, naming both.
func declare(p Paths, project, key string, n model.Network, routes []hostRoute, persist bool) (*Record, error) {
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
		return nil, fmt.Errorf("%snetwork %q: name %s is already the network of project %s%s; another project joins it with external: true",
			prefixAt(n.At), key, name, old.Project, suffixAt(old.At))
	}
	r := &Record{Name: name, Project: project, Bridge: bridgeName(name), Internal: n.Internal,
		MTU: n.MTU, NoMasquerade: n.NoMasquerade, At: n.At}
	if n.Bridge != "" {
		r.Bridge = n.Bridge
	}
	recs, err := p.Records()
	if err != nil {
		return nil, err
	}
	if err := bridgeFree(p, r, old, recs); err != nil {
		return nil, fmt.Errorf("network %q: %w", key, err)
	}
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
		s, err := freeSubnet(recs, name, routes)
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
	v6 := false
	for _, mp := range n.More {
		s, g, err := pool(mp)
		if err != nil {
			return nil, fmt.Errorf("network %q: %w", key, err)
		}
		if s.Addr().Is4() {
			return nil, fmt.Errorf("network %q: a second IPv4 subnet %s: a bridge holds one IPv4 gateway", key, s)
		}
		v6 = true
		r.More = append(r.More, model.Pool{Subnet: s.String(), Gateway: g.String()})
	}
	if n.IPv6 && !v6 {
		s, err := ula(recs, old, name, routes)
		if err != nil {
			return nil, fmt.Errorf("network %q: %w", key, err)
		}
		r.More = append(r.More, model.Pool{Subnet: s.String(), Gateway: s.Addr().Next().String()})
	}
	if err := overlaps(r, recs, routes); err != nil {
		return nil, fmt.Errorf("%snetwork %q: %w", prefixAt(n.At), key, err)
	}
	if persist && (old == nil || !reflect.DeepEqual(old, r)) {
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

// freeSubnet picks a /24 of DefaultPool no other network uses and no host
// route covers, starting at one derived from name so that it rarely moves
// between hosts.
func freeSubnet(recs []*Record, name string, routes []hostRoute) (netip.Prefix, error) {
	n := 1 << (24 - DefaultPool.Bits())
	start := int(hash32(name) % uint32(n))
	base := DefaultPool.Addr().As4()
	for i := 0; i < n; i++ {
		k := (start + i) % n
		b := base
		b[1] += byte(k >> 8)
		b[2] += byte(k)
		cand := netip.PrefixFrom(netip.AddrFrom4(b), 24)
		if usedBy(recs, name, cand) == nil && routeConflict(cand, routes, bridges(recs)) == nil {
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /24 left in %s", DefaultPool)
}

// ula is the IPv6 subnet of an enable_ipv6 network without one of its
// own: the one it had, else the first free candidate of ulaSubnet.
func ula(recs []*Record, old *Record, name string, routes []hostRoute) (netip.Prefix, error) {
	if old != nil {
		for _, mp := range old.More {
			if s, err := netip.ParsePrefix(mp.Subnet); err == nil && s.Addr().Is6() {
				return s, nil
			}
		}
	}
	for i := 0; i < 256; i++ {
		cand := ulaSubnet(name, i)
		if usedBy(recs, name, cand) == nil && routeConflict(cand, routes, bridges(recs)) == nil {
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free IPv6 /64 for enable_ipv6: set an IPv6 ipam subnet")
}

// usedBy returns the network other than name whose subnets overlap s.
func usedBy(recs []*Record, name string, s netip.Prefix) *Record {
	for _, o := range recs {
		if o.Name == name {
			continue
		}
		for _, op := range o.Pools() {
			if other, err := netip.ParsePrefix(op.Subnet); err == nil && other.Overlaps(s) {
				return o
			}
		}
	}
	return nil
}

// bridges are the bridge devices of recs.
func bridges(recs []*Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Bridge)
	}
	return out
}

// overlaps refuses a subnet of r that another berth network or a host
// route already uses, naming the other network, its project and where it
// is declared.
func overlaps(r *Record, recs []*Record, routes []hostRoute) error {
	for _, rp := range r.Pools() {
		s := netip.MustParsePrefix(rp.Subnet)
		if o := usedBy(recs, r.Name, s); o != nil {
			for _, op := range o.Pools() {
				if other, err := netip.ParsePrefix(op.Subnet); err == nil && other.Overlaps(s) {
					return fmt.Errorf("subnet %s of network %s overlaps subnet %s of network %s (project %s%s)", s, r.Name, other, o.Name, o.Project, suffixAt(o.At))
				}
			}
		}
		if err := routeConflict(s, routes, append(bridges(recs), r.Bridge)); err != nil {
			return err
		}
	}
	return nil
}

// bridgeFree refuses a bridge device another network has, and renaming
// the bridge of a network containers are attached to.
func bridgeFree(p Paths, r, old *Record, recs []*Record) error {
	for _, o := range recs {
		if o.Name != r.Name && o.Bridge == r.Bridge {
			return fmt.Errorf("bridge %s is already the bridge of network %s (project %s%s)", r.Bridge, o.Name, o.Project, suffixAt(o.At))
		}
	}
	if old != nil && old.Bridge != r.Bridge && old.Bridge != "" {
		if attached(p, old.Name) {
			return fmt.Errorf("bridge name %s: the network's bridge is %s and containers are attached to it; stop them (berth down) to rename it", r.Bridge, old.Bridge)
		}
	}
	return nil
}

func prefixAt(at string) string {
	if at == "" {
		return ""
	}
	return at + ": "
}

func suffixAt(at string) string {
	if at == "" {
		return ""
	}
	return ", declared at " + at
}

// takenOn is every address reserved on network r, by member id.
func takenOn(p Paths, r *Record) (map[netip.Addr]string, error) {
	ms, err := p.Members(r.Name)
	if err != nil {
		return nil, err
	}
	t := map[netip.Addr]string{}
	for _, m := range ms {
		for _, ip := range m.Addrs() {
			if a, err := netip.ParseAddr(ip); err == nil {
				t[a] = m.ID
			}
		}
	}
	return t, nil
}

// addresses chooses w's address on each subnet of its network: the
// explicit one (ipv4_address on the first subnet, ipv6_address on the
// IPv6 subnet holding it), else the one it already has, else one derived
// from a hash of its id.
func addresses(p Paths, w *want, taken map[netip.Addr]string) ([]netip.Addr, error) {
	var m Member
	var prior []netip.Addr
	if err := readJSON(p.memberFile(w.rec.Name, w.id), &m); err == nil {
		for _, s := range m.Addrs() {
			if a, err := netip.ParseAddr(s); err == nil {
				prior = append(prior, a)
			}
		}
	}
	explicit6 := w.explicit6 != ""
	var out []netip.Addr
	for i, rp := range w.rec.Pools() {
		subnet := netip.MustParsePrefix(rp.Subnet)
		gw := netip.MustParseAddr(rp.Gateway)
		explicit, what := "", "ipv4_address"
		if i == 0 {
			explicit = w.explicit
		} else if a, err := netip.ParseAddr(w.explicit6); err == nil && subnet.Contains(a) {
			explicit, what, explicit6 = w.explicit6, "ipv6_address", false
		}
		if explicit != "" {
			a, err := netip.ParseAddr(explicit)
			if err != nil || a.Is4() != subnet.Addr().Is4() {
				return nil, fmt.Errorf("%s %q is not an address of %s", what, explicit, subnet)
			}
			if !usable(subnet, gw, a) {
				return nil, fmt.Errorf("%s %s is not a usable address of %s (gateway %s)", what, a, subnet, gw)
			}
			if owner, ok := taken[a]; ok && owner != w.id {
				return nil, fmt.Errorf("%s %s is already used by %s", what, a, owner)
			}
			out = append(out, a)
			continue
		}
		var was netip.Addr
		for _, a := range prior {
			if subnet.Contains(a) {
				was = a
			}
		}
		a, err := pickAddr(subnet, gw, w.id, was, taken)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if explicit6 {
		return nil, fmt.Errorf("ipv6_address %s is in no IPv6 subnet of network %s", w.explicit6, w.rec.Name)
	}
	return out, nil
}

// attachment is w's model attachment once addresses are chosen: IPv4 on
// the first subnet, IPv6 on the first IPv6 subnet, More on the others.
func attachment(w *want) model.NetworkAttachment {
	a := model.NetworkAttachment{Aliases: w.aliases, IPv4: w.addr.String(), MAC: w.mac,
		LinkLocal: w.att.LinkLocal, Priority: w.att.Priority}
	for _, m := range w.more {
		if a.IPv6 == "" && m.Is6() {
			a.IPv6 = m.String()
			continue
		}
		a.More = append(a.More, m.String())
	}
	return a
}

func addrStrings(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
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
