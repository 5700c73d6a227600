package compose

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/compose-spec/compose-go/v2/types"
)

// networks converts the top-level networks; compose-go has already added
// "default" when a service uses it.
func (l *loader) networks() (map[string]model.Network, error) {
	out := map[string]model.Network{}
	var errs []error
	for _, key := range sortedKeys(l.cp.Networks) {
		nc := l.cp.Networks[key]
		n := model.Network{Name: nc.Name, Internal: nc.Internal, At: l.pos.at("networks", key)}
		if nc.External {
			n.External, n.ExternalName = true, nc.Name
		}
		n.IPv6 = nc.EnableIPv6 != nil && *nc.EnableIPv6
		for i, pool := range nc.Ipam.Config {
			at := l.pos.at("networks", key, "ipam", "config", strconv.Itoa(i))
			p, err := ipamPool(pool.Subnet, pool.Gateway)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: network %q: ipam.config: %w", at, key, err))
				continue
			}
			switch {
			case p.Subnet == "" && i > 0:
				errs = append(errs, fmt.Errorf("%s: network %q: ipam.config: only the first entry may leave out subnet", at, key))
			case p.Subnet != "" && netip.MustParsePrefix(p.Subnet).Addr().Is6() && !n.IPv6:
				errs = append(errs, fmt.Errorf("%s: network %q: ipam.config.subnet %s is IPv6: set enable_ipv6: true on the network", at, key, p.Subnet))
			case n.Subnet == "" && n.Gateway == "" && (p.Subnet == "" || netip.MustParsePrefix(p.Subnet).Addr().Is4()):
				n.Subnet, n.Gateway = p.Subnet, p.Gateway
			case p.Subnet != "" && netip.MustParsePrefix(p.Subnet).Addr().Is4():
				// The bridge holds one IPv4 gateway (docker's bridge driver refuses this too).
				errs = append(errs, fmt.Errorf("%s: network %q: ipam.config: a second IPv4 subnet %s: a bridge network has one IPv4 subnet and any number of IPv6 ones; declare another network", at, key, p.Subnet))
			case slices.ContainsFunc(n.More, func(o model.Pool) bool { return overlap(o.Subnet, p.Subnet) }) || overlap(n.Subnet, p.Subnet):
				errs = append(errs, fmt.Errorf("%s: network %q: ipam.config.subnet %s overlaps another entry of the network", at, key, p.Subnet))
			default:
				n.More = append(n.More, p)
			}
		}
		errs = append(errs, l.bridgeOpts(key, nc.DriverOpts, &n)...)
		out[key] = n
	}
	return out, joinErrs(errs)
}

// ipamPool checks one ipam.config entry: a CIDR (masked) and a gateway
// inside it.
func ipamPool(subnet, gateway string) (model.Pool, error) {
	var p model.Pool
	if subnet != "" {
		s, err := netip.ParsePrefix(subnet)
		if err != nil {
			return p, fmt.Errorf("subnet %q is not a CIDR", subnet)
		}
		if max := s.Addr().BitLen() - 2; s.Bits() > max {
			return p, fmt.Errorf("subnet %q is too small: /%d at most", subnet, max)
		}
		p.Subnet = s.Masked().String()
	}
	if gateway != "" {
		g, err := netip.ParseAddr(gateway)
		if err != nil || (p.Subnet != "" && !netip.MustParsePrefix(p.Subnet).Contains(g)) {
			return p, fmt.Errorf("gateway %q is not an address of subnet %s", gateway, p.Subnet)
		}
		p.Gateway = g.String()
	}
	return p, nil
}

func overlap(a, b string) bool {
	x, err1 := netip.ParsePrefix(a)
	y, err2 := netip.ParsePrefix(b)
	return err1 == nil && err2 == nil && x.Overlaps(y)
}

// Bridge driver_opts berth carries out; others warn (fields.go).
const (
	optBridgeName = "com.docker.network.bridge.name"
	optMTU        = "com.docker.network.driver.mtu"
	optMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
)

// bridgeOpts reads the bridge driver_opts berth supports into n.
func (l *loader) bridgeOpts(key string, opts map[string]string, n *model.Network) []error {
	var errs []error
	for _, k := range sortedKeys(opts) {
		v := opts[k]
		at := l.pos.at("networks", key, "driver_opts", k)
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: network %q: driver_opts.%s: %s", at, key, k, fmt.Sprintf(format, args...)))
		}
		switch k {
		case optBridgeName:
			if err := checkIfName(v); err != nil {
				fail("%v", err)
			}
			n.Bridge = v
		case optMTU, "mtu":
			m, err := strconv.Atoi(v)
			if err != nil || m < 68 || m > 65535 {
				fail("%q is not an MTU (68 to 65535)", v)
			}
			n.MTU = m
		case optMasquerade:
			b, err := strconv.ParseBool(v)
			if err != nil {
				fail("%q is not true or false", v)
			}
			n.NoMasquerade = !b
		}
	}
	return errs
}

// checkIfName is the kernel's rule for interface names (dev_valid_name):
// 1 to 15 bytes, not "." or "..", no '/', ':' or white space.
func checkIfName(s string) error {
	switch {
	case s == "" || len(s) > 15:
		return fmt.Errorf("bridge name %q must be 1 to 15 characters", s)
	case s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n\v\f\r"):
		return fmt.Errorf("bridge name %q is not an interface name (no /, : or spaces)", s)
	}
	return nil
}

// network fills NetworkMode, Networks, Ports, ExtraHosts, DNS and DNSSearch.
func (l *loader) network(c svcAt, sc types.ServiceConfig, p *model.Project, s *model.Service) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	mode := sc.NetworkMode
	switch {
	case mode == "" || mode == "default":
		mode = ""
	case mode == "bridge":
		c.warnf([]string{"network_mode"}, "%q joins the project's default network under berth", mode)
		mode = ""
	case mode == "host" || mode == "none":
	case strings.HasPrefix(mode, types.ServicePrefix):
		target := strings.TrimPrefix(mode, types.ServicePrefix)
		if _, ok := l.cp.Services[target]; !ok {
			add(c.errorf([]string{"network_mode"}, "service %q is not a service of this project (or is disabled by profiles)", target))
		} else if target == sc.Name {
			add(c.errorf([]string{"network_mode"}, "a service cannot share its own network namespace"))
		}
	case strings.HasPrefix(mode, types.ContainerPrefix):
		name := strings.TrimPrefix(mode, types.ContainerPrefix)
		if name == "" {
			add(c.errorf([]string{"network_mode"}, "container: needs a container name"))
		} else if !containerNameRE.MatchString(name) {
			// It names a directory under the run dir, and a unit.
			add(c.errorf([]string{"network_mode"}, "container name %q must be letters, digits and _.- (not first)", name))
		}
	default:
		add(c.errorf([]string{"network_mode"}, "%q is not supported (valid: host, none, service:NAME, container:NAME)", mode))
	}
	s.NetworkMode = mode
	if mode == "" {
		for _, name := range sortedKeys(sc.Networks) {
			nc := sc.Networks[name]
			field := []string{"networks", name}
			pn, ok := p.Networks[name]
			if !ok {
				add(c.errorf(field, "network %q is not declared under the top-level networks", name))
				continue
			}
			var a model.NetworkAttachment
			if nc != nil {
				a.Aliases = append(a.Aliases, nc.Aliases...)
				if nc.Ipv4Address != "" {
					ip, err := netip.ParseAddr(nc.Ipv4Address)
					switch {
					case err != nil || !ip.Is4():
						add(c.errorf(append(field, "ipv4_address"), "%q is not an IPv4 address", nc.Ipv4Address))
					case pn.Subnet == "":
						add(c.errorf(append(field, "ipv4_address"), "needs ipam.config.subnet on network %q", name))
					case !netip.MustParsePrefix(pn.Subnet).Contains(ip):
						add(c.errorf(append(field, "ipv4_address"), "%s is outside subnet %s of network %q", ip, pn.Subnet, name))
					default:
						a.IPv4 = ip.String()
					}
				}
				if nc.MacAddress != "" {
					mac, err := parseMAC(nc.MacAddress)
					if err != nil {
						add(c.errorf(append(field, "mac_address"), "%v", err))
					}
					a.MAC = mac
				}
				if nc.Ipv6Address != "" {
					ip, err := netip.ParseAddr(nc.Ipv6Address)
					switch {
					case err != nil || !ip.Is6() || ip.Is4In6():
						add(c.errorf(append(field, "ipv6_address"), "%q is not an IPv6 address", nc.Ipv6Address))
					case !pn.IPv6:
						add(c.errorf(append(field, "ipv6_address"), "network %q does not set enable_ipv6: true", name))
					case !slices.ContainsFunc(pn.More, func(p model.Pool) bool { return overlap(p.Subnet, ip.String()+"/128") }):
						add(c.errorf(append(field, "ipv6_address"), "%s is in no ipam.config subnet of network %q", ip, name))
					default:
						a.IPv6 = ip.String()
					}
				}
				for i, s := range nc.LinkLocalIPs {
					ip, err := netip.ParseAddr(s)
					if err != nil || !ip.IsLinkLocalUnicast() {
						add(c.errorf(append(field, "link_local_ips", strconv.Itoa(i)), "%q is not a link-local address (169.254.0.0/16 or fe80::/10)", s))
						continue
					}
					if ip.Is6() && !pn.IPv6 {
						add(c.errorf(append(field, "link_local_ips", strconv.Itoa(i)), "%s is IPv6: network %q does not set enable_ipv6: true", ip, name))
						continue
					}
					a.LinkLocal = append(a.LinkLocal, ip.String())
				}
				a.Priority = nc.Priority
				for _, f := range []struct {
					set  bool
					name string
				}{
					{len(nc.DriverOpts) > 0, "driver_opts"},
					{nc.InterfaceName != "", "interface_name"},
					// priority alone picks the default route.
					{nc.GatewayPriority != 0, "gw_priority"},
				} {
					if f.set {
						c.warnf(append(field, f.name), "is not supported and is ignored")
					}
				}
			}
			if s.Networks == nil {
				s.Networks = map[string]model.NetworkAttachment{}
			}
			s.Networks[name] = a
		}
		// As docker compose: the service's mac_address is its first
		// network's unless that network sets its own.
		if sc.MacAddress != "" && len(s.Networks) > 0 {
			mac, err := parseMAC(sc.MacAddress)
			if err != nil {
				add(c.errorf([]string{"mac_address"}, "%v", err))
			}
			first := model.NetworkOrder(s.Networks)[0]
			if a := s.Networks[first]; a.MAC == "" {
				a.MAC = mac
				s.Networks[first] = a
			} else if a.MAC != mac {
				c.warnf([]string{"mac_address"}, "is ignored: network %q, the service's first (by priority, then name), sets its own", first)
			}
		}
	} else if sc.MacAddress != "" {
		c.warnf([]string{"mac_address"}, "is ignored with network_mode %q", mode)
	}
	if mode != "" && len(sc.Ports) > 0 {
		// As docker: with another namespace there is nothing to publish
		// into; with host networking the ports are the host's already.
		c.warnf([]string{"ports"}, "are ignored with network_mode %q", mode)
	}
	if mode == "" {
		if len(sc.Ports) > 0 {
			s.PortsAt = c.at("ports")
		}
		for i, pc := range sc.Ports {
			ports, err := l.ports(c, []string{"ports", strconv.Itoa(i)}, pc)
			add(err)
			s.Ports = append(s.Ports, ports...)
		}
	}
	for host, ips := range sc.ExtraHosts {
		for _, ip := range ips {
			// host-gateway is the host's address on the container's
			// network (its bridge gateway), or loopback with host networking.
			if ip == "host-gateway" && mode == "none" {
				add(c.errorf([]string{"extra_hosts"}, "%s:host-gateway: network_mode none has no way to the host", host))
			}
			s.ExtraHosts = append(s.ExtraHosts, host+":"+ip)
		}
	}
	sort.Strings(s.ExtraHosts)
	s.DNS = append(s.DNS, sc.DNS...)
	s.DNSSearch = append(s.DNSSearch, sc.DNSSearch...)
	return joinErrs(errs)
}

// ports expands one port entry ("8000-8001:80-81/udp" comes in as one entry
// per port from compose-go) into Ports. A port without a published host port
// is not carried: docker would publish it on a random port, which no peer or
// user could find; berth warns instead.
func (l *loader) ports(c svcAt, field []string, pc types.ServicePortConfig) ([]model.Port, error) {
	proto := strings.ToLower(pc.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, c.errorf(field, "protocol %q is not supported (valid: tcp, udp)", pc.Protocol)
	}
	if pc.Target == 0 || pc.Target > 65535 {
		return nil, c.errorf(field, "container port %d is not a port", pc.Target)
	}
	if pc.Published == "" {
		c.warnf(field, "container port %d/%s has no host port and is not published (write HOST:%d to publish it)", pc.Target, proto, pc.Target)
		return nil, nil
	}
	lo, hi, err := portRange(pc.Published)
	if err != nil {
		return nil, c.errorf(field, "published %q: %v", pc.Published, err)
	}
	if hi != lo {
		c.warnf(field, "host port range %s for one container port: berth publishes %d", pc.Published, lo)
	}
	hostIP := pc.HostIP
	if hostIP != "" {
		ip, err := netip.ParseAddr(hostIP)
		if err != nil {
			return nil, c.errorf(field, "host_ip %q is not an IP address", hostIP)
		}
		hostIP = ip.String()
	}
	return []model.Port{{HostIP: hostIP, HostPort: lo, ContainerPort: uint16(pc.Target), Protocol: proto}}, nil
}

func portRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	x, err := strconv.ParseUint(a, 10, 16)
	if err != nil || x == 0 {
		return 0, 0, fmt.Errorf("not a port")
	}
	if !isRange {
		return uint16(x), uint16(x), nil
	}
	y, err := strconv.ParseUint(b, 10, 16)
	if err != nil || y < x {
		return 0, 0, fmt.Errorf("not a port range")
	}
	return uint16(x), uint16(y), nil
}

// parseMAC checks a mac_address: a unicast MAC of six bytes, returned in
// the form the kernel prints.
func parseMAC(s string) (string, error) {
	mac, err := net.ParseMAC(s)
	if err != nil || len(mac) != 6 {
		return "", fmt.Errorf("%q is not a MAC address of six bytes", s)
	}
	if mac[0]&1 != 0 {
		return "", fmt.Errorf("%q is a multicast address", s)
	}
	return mac.String(), nil
}

// containerNameRE is docker's rule for container names.
var containerNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
