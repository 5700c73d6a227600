package network

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestPrepareDualStack: enable_ipv6 without a subnet gets a ULA /64 that
// stays the same across applies; with an IPv6 ipam subnet, ipv6_address
// is honoured and other members get a derived address; peers' hosts files
// list both families.
func TestPrepareDualStack(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	mk := func() []model.Entry {
		return []model.Entry{testProject("app", map[string]model.Network{
			"ula":  {IPv6: true},
			"fixd": {IPv6: true, Subnet: "10.89.60.0/24", More: []model.Pool{{Subnet: "fd42:60::/64"}}},
		},
			model.Service{Name: "web", Networks: map[string]model.NetworkAttachment{"ula": {}, "fixd": {IPv6: "fd42:60::10"}}},
			model.Service{Name: "db", Networks: map[string]model.NetworkAttachment{"ula": {}, "fixd": {}}},
		)}
	}
	first := mk()
	if err := Prepare(context.Background(), p, first, nil, true); err != nil || first[0].Err != nil {
		t.Fatal(err, first[0].Err)
	}
	ula, err := p.ReadRecord("app_ula")
	if err != nil || len(ula.More) != 1 {
		t.Fatalf("ula network: %+v %v", ula, err)
	}
	sub := netip.MustParsePrefix(ula.More[0].Subnet)
	if !netip.MustParsePrefix("fd00::/8").Contains(sub.Addr()) || sub.Bits() != 64 || ula.More[0].Gateway != sub.Addr().Next().String() {
		t.Errorf("ULA pool %+v", ula.More[0])
	}
	web, db := first[0].Project.Services[0].Networks, first[0].Project.Services[1].Networks
	if web["app_fixd"].IPv6 != "fd42:60::10" || web["app_fixd"].IPv4 == "" {
		t.Errorf("web on fixd: %+v", web["app_fixd"])
	}
	for _, a := range []model.NetworkAttachment{web["app_ula"], db["app_ula"], db["app_fixd"]} {
		v6, err := netip.ParseAddr(a.IPv6)
		if err != nil || !v6.Is6() || a.IPv4 == "" || len(a.More) != 0 {
			t.Errorf("attachment not dual-stack: %+v", a)
		}
	}
	if db["app_ula"].IPv6 == web["app_ula"].IPv6 {
		t.Errorf("two members share %s", db["app_ula"].IPv6)
	}
	// A second apply keeps the ULA and every address.
	again := mk()
	if err := Prepare(context.Background(), p, again, nil, true); err != nil || again[0].Err != nil {
		t.Fatal(err, again[0].Err)
	}
	if r, _ := p.ReadRecord("app_ula"); r.More[0].Subnet != sub.String() {
		t.Errorf("ULA moved from %s to %s", sub, r.More[0].Subnet)
	}
	if got := again[0].Project.Services[1].Networks["app_ula"]; got.IPv6 != db["app_ula"].IPv6 {
		t.Errorf("db's IPv6 address moved: %s → %s", db["app_ula"].IPv6, got.IPv6)
	}
	// web's hosts file resolves db to both of its addresses on fixd.
	hosts, err := renderHosts(p, &netInfo{ID: "app-web", Hostname: "web", Networks: map[string]string{"app_fixd": web["app_fixd"].IPv4}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{db["app_fixd"].IPv4, db["app_fixd"].IPv6} {
		if !strings.Contains(string(hosts), ip+"\tdb ") {
			t.Errorf("hosts has no line %s db:\n%s", ip, hosts)
		}
	}
}

// TestPrepareSeveralSubnets: every ipam subnet gives each member an
// address (IPv6 on the first IPv6 one, More on the others), a second IPv4
// subnet is refused, and so is an ipv6_address outside every subnet.
func TestPrepareSeveralSubnets(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	entries := []model.Entry{testProject("two", map[string]model.Network{
		"default": {IPv6: true, Subnet: "10.89.61.0/24", More: []model.Pool{{Subnet: "fd42:61::/64"}, {Subnet: "fd42:62::/64", Gateway: "fd42:62::fe"}}},
	}, model.Service{Name: "web", Networks: att("10.89.61.5")})}
	if err := Prepare(context.Background(), p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	a := entries[0].Project.Services[0].Networks["two_default"]
	if a.IPv4 != "10.89.61.5" || !strings.HasPrefix(a.IPv6, "fd42:61::") || len(a.More) != 1 || !strings.HasPrefix(a.More[0], "fd42:62::") || a.More[0] == "fd42:62::fe" {
		t.Errorf("attachment %+v", a)
	}
	r, _ := p.ReadRecord("two_default")
	if r.More[1].Gateway != "fd42:62::fe" {
		t.Errorf("second gateway %+v", r.More)
	}
	ips, err := r.withPrefixes(append([]string{a.IPv4, a.IPv6}, a.More...))
	if err != nil || len(ips) != 3 || ips[0] != "10.89.61.5/24" || !strings.HasSuffix(ips[2], "/64") {
		t.Errorf("ips capability %v %v", ips, err)
	}

	two4 := []model.Entry{testProject("two4", map[string]model.Network{
		"default": {Subnet: "10.89.63.0/24", More: []model.Pool{{Subnet: "10.89.64.0/24"}}},
	}, model.Service{Name: "web", Networks: att("")})}
	if err := Prepare(context.Background(), p, two4, nil, false); err != nil {
		t.Fatal(err)
	}
	if two4[0].Err == nil || !strings.Contains(two4[0].Err.Error(), "second IPv4 subnet 10.89.64.0/24") {
		t.Errorf("two IPv4 subnets: %v", two4[0].Err)
	}

	bad := []model.Entry{testProject("bad", map[string]model.Network{
		"default": {IPv6: true, More: []model.Pool{{Subnet: "fd42:63::/64"}}},
	}, model.Service{Name: "web", Networks: map[string]model.NetworkAttachment{"default": {IPv6: "fd42:64::1"}}})}
	if err := Prepare(context.Background(), p, bad, nil, false); err != nil {
		t.Fatal(err)
	}
	if bad[0].Err == nil || !strings.Contains(bad[0].Err.Error(), "ipv6_address fd42:64::1 is in no IPv6 subnet") {
		t.Errorf("ipv6_address outside the subnets: %v", bad[0].Err)
	}
}

// TestPrepareConflictsNameBothSides: a subnet overlapping another
// project's network and a bridge name another network has are refused
// with the other network, its project and where it is declared; the
// refused project writes nothing.
func TestPrepareConflictsNameBothSides(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	first := []model.Entry{testProject("first", map[string]model.Network{
		"default": {Subnet: "10.89.65.0/24", Bridge: "br-first", At: "/etc/berth/first/compose.yaml:9"},
	}, model.Service{Name: "a", Networks: att("")})}
	if err := Prepare(context.Background(), p, first, nil, true); err != nil || first[0].Err != nil {
		t.Fatal(err, first[0].Err)
	}
	for _, c := range []struct {
		net  model.Network
		want []string
	}{
		{model.Network{Subnet: "10.89.65.128/25", At: "/etc/berth/second/compose.yaml:4"}, []string{
			"/etc/berth/second/compose.yaml:4: network \"default\"", "10.89.65.128/25 of network second_default",
			"10.89.65.0/24 of network first_default (project first, declared at /etc/berth/first/compose.yaml:9)"}},
		{model.Network{Bridge: "br-first"}, []string{"bridge br-first is already the bridge of network first_default (project first"}},
		{model.Network{IPv6: true, More: []model.Pool{{Subnet: "fd42:65::/64"}}, Subnet: "10.89.66.0/24"}, nil},
	} {
		second := []model.Entry{testProject("second", map[string]model.Network{"default": c.net}, model.Service{Name: "b", Networks: att("")})}
		if err := Prepare(context.Background(), p, second, nil, true); err != nil {
			t.Fatal(err)
		}
		if c.want == nil {
			if second[0].Err != nil {
				t.Errorf("%+v: %v", c.net, second[0].Err)
			}
			continue
		}
		if second[0].Err == nil {
			t.Errorf("%+v accepted", c.net)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(second[0].Err.Error(), w) {
				t.Errorf("error %q does not say %q", second[0].Err, w)
			}
		}
		if r, err := p.ReadRecord("second_default"); err == nil && r.Bridge == "br-first" {
			t.Errorf("refused network recorded: %+v", r)
		}
	}
	// A third project overlapping the IPv6 subnet of the second.
	third := []model.Entry{testProject("third", map[string]model.Network{"default": {IPv6: true, More: []model.Pool{{Subnet: "fd42:65::/48"}}}},
		model.Service{Name: "c", Networks: att("")})}
	if err := Prepare(context.Background(), p, third, nil, true); err != nil {
		t.Fatal(err)
	}
	if third[0].Err == nil || !strings.Contains(third[0].Err.Error(), "overlaps subnet fd42:65::/64 of network second_default") {
		t.Errorf("IPv6 overlap: %v", third[0].Err)
	}
}

// TestRouteConflict: a subnet under or over a host route through a device
// that is no berth bridge is refused; default, link-local routes and
// berth's own bridges are not conflicts.
func TestRouteConflict(t *testing.T) {
	routes := []hostRoute{
		{Dst: netip.MustParsePrefix("192.168.1.0/24"), Link: "eth0"},
		{Dst: netip.MustParsePrefix("fe80::/64"), Link: "eth0"},
		{Dst: netip.MustParsePrefix("10.89.5.0/24"), Link: "berth0a1b2c3d"},
		{Dst: netip.MustParsePrefix("fd00::/64"), Link: "eth0"},
	}
	for s, bad := range map[string]bool{
		"192.168.0.0/16": true, "192.168.1.128/25": true, "192.168.2.0/24": false,
		"10.89.5.0/24": false, "fd00::/48": true, "fd01::/64": false,
	} {
		err := routeConflict(netip.MustParsePrefix(s), routes, []string{"berth0a1b2c3d"})
		if (err != nil) != bad {
			t.Errorf("%s: %v, want conflict %v", s, err, bad)
		}
		if err != nil && !strings.Contains(err.Error(), "via eth0") {
			t.Errorf("%s: %v does not name the device", s, err)
		}
	}
}

// TestPickAddrIPv6: derived IPv6 addresses are stable, inside the subnet,
// never the subnet's own address or the gateway, and move on when taken.
func TestPickAddrIPv6(t *testing.T) {
	sub := netip.MustParsePrefix("fd42:1::/64")
	gw := sub.Addr().Next()
	a, err := pickAddr(sub, gw, "app-web", netip.Addr{}, nil)
	if err != nil || !sub.Contains(a) || a == gw || a == sub.Addr() {
		t.Fatalf("%s %v", a, err)
	}
	b, _ := pickAddr(sub, gw, "app-web", netip.Addr{}, nil)
	if a != b {
		t.Errorf("not stable: %s %s", a, b)
	}
	c, err := pickAddr(sub, gw, "app-web", netip.Addr{}, map[netip.Addr]string{a: "app-db"})
	if err != nil || c == a {
		t.Errorf("taken address given again: %s %v", c, err)
	}
	small := netip.MustParsePrefix("fd42:2::/126") // ::1 gateway, ::2 ::3 usable
	got := map[netip.Addr]string{}
	for _, id := range []string{"x", "y"} {
		a, err := pickAddr(small, small.Addr().Next(), id, netip.Addr{}, got)
		if err != nil {
			t.Fatal(err)
		}
		got[a] = id
	}
	if _, err := pickAddr(small, small.Addr().Next(), "z", netip.Addr{}, got); err == nil {
		t.Errorf("a full /126 gave a third address")
	}
}

// TestConfListDualStack: one range set per subnet, a default route per
// family, the MTU and masquerading as the network says.
func TestConfListDualStack(t *testing.T) {
	r := &Record{Name: "n", Bridge: "br-x", Subnet: "10.89.67.0/24", Gateway: "10.89.67.1",
		More: []model.Pool{{Subnet: "fd42:68::/64", Gateway: "fd42:68::1"}, {Subnet: "fd42:67::/64", Gateway: "fd42:67::1"}},
		MTU:  1400, NoMasquerade: true}
	l, err := confList(r, Paths{StateDir: "/s", RunDir: "/r"})
	if err != nil {
		t.Fatal(err)
	}
	var bridge struct {
		Bridge string `json:"bridge"`
		MTU    int    `json:"mtu"`
		IPMasq bool   `json:"ipMasq"`
		IPAM   struct {
			Ranges [][]map[string]string `json:"ranges"`
			Routes []map[string]string   `json:"routes"`
		} `json:"ipam"`
	}
	if err := json.Unmarshal(l.Plugins[0].Bytes, &bridge); err != nil {
		t.Fatal(err)
	}
	if bridge.Bridge != "br-x" || bridge.MTU != 1400 || bridge.IPMasq || len(bridge.IPAM.Ranges) != 3 || len(bridge.IPAM.Routes) != 2 ||
		bridge.IPAM.Routes[0]["dst"] != "0.0.0.0/0" || bridge.IPAM.Routes[1]["dst"] != "::/0" {
		t.Errorf("bridge plugin config: %+v", bridge)
	}
}

// TestNetworkOrder: the highest priority network comes first, ties by name.
func TestNetworkOrder(t *testing.T) {
	got := model.NetworkOrder(map[string]model.NetworkAttachment{"a": {}, "b": {Priority: 5}, "c": {Priority: 5}, "d": {Priority: -1}})
	if strings.Join(got, ",") != "b,c,a,d" {
		t.Errorf("order %v", got)
	}
}
