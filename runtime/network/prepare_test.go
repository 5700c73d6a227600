package network

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func testProject(name string, nets map[string]model.Network, svcs ...model.Service) model.Entry {
	p := &model.Project{Name: name, Networks: nets}
	for _, s := range svcs {
		s.Project = name
		p.Services = append(p.Services, s)
	}
	return model.Entry{Name: name, Path: "/etc/berth/" + name, Project: p}
}

func att(ip string, aliases ...string) map[string]model.NetworkAttachment {
	return map[string]model.NetworkAttachment{"default": {IPv4: ip, Aliases: aliases}}
}

func TestPrepareStableAddresses(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	mk := func() []model.Entry {
		return []model.Entry{testProject("app", map[string]model.Network{"default": {}},
			model.Service{Name: "web", Networks: att("")},
			model.Service{Name: "db", Networks: att("", "database")},
			model.Service{Name: "fixed", Networks: att("10.89.200.7")},
		)}
	}
	// an explicit subnet so the fixed address is inside it
	entries := mk()
	entries[0].Project.Networks["default"] = model.Network{Subnet: "10.89.200.0/24"}
	if err := Prepare(context.Background(), p, entries, nil, true); err != nil {
		t.Fatal(err)
	}
	if entries[0].Err != nil {
		t.Fatal(entries[0].Err)
	}
	got := map[string]string{}
	for _, s := range entries[0].Project.Services {
		a, ok := s.Networks["app_default"]
		if !ok || len(s.Networks) != 1 {
			t.Fatalf("%s: networks not rewritten to berth names: %v", s.Name, s.Networks)
		}
		got[s.Name] = a.IPv4
	}
	if got["fixed"] != "10.89.200.7" {
		t.Errorf("ipv4_address not honoured: %s", got["fixed"])
	}
	if got["web"] == got["db"] || !netip.MustParsePrefix("10.89.200.0/24").Contains(netip.MustParseAddr(got["web"])) {
		t.Errorf("bad addresses %v", got)
	}
	r, err := p.ReadRecord("app_default")
	if err != nil || r.Gateway != "10.89.200.1" || !strings.HasPrefix(r.Bridge, "berth") || len(r.Bridge) > 15 {
		t.Fatalf("record %+v, %v", r, err)
	}
	// Again: same addresses; a plan (persist false) too.
	for _, persist := range []bool{true, false} {
		again := mk()
		again[0].Project.Networks["default"] = model.Network{Subnet: "10.89.200.0/24"}
		if err := Prepare(context.Background(), p, again, nil, persist); err != nil {
			t.Fatal(err)
		}
		for _, s := range again[0].Project.Services {
			if s.Networks["app_default"].IPv4 != got[s.Name] {
				t.Errorf("%s moved from %s to %s", s.Name, got[s.Name], s.Networks["app_default"].IPv4)
			}
		}
	}
	ms, _ := p.Members("app_default")
	if len(ms) != 3 {
		t.Fatalf("members %v", ms)
	}
	for _, m := range ms {
		if m.Service == "db" && strings.Join(m.Names, " ") != "db database app-db" {
			t.Errorf("db names %v", m.Names)
		}
	}
}

func TestPrepareSubnetsAndErrors(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	entries := []model.Entry{
		testProject("a", map[string]model.Network{"default": {}}, model.Service{Name: "x", Networks: att("")}),
		testProject("b", map[string]model.Network{"default": {}, "shared": {External: true, ExternalName: "a_default"}},
			model.Service{Name: "y", Networks: map[string]model.NetworkAttachment{"shared": {}}}),
		testProject("c", map[string]model.Network{"default": {External: true, ExternalName: "nope"}}, model.Service{Name: "z", Networks: att("")}),
		testProject("d", map[string]model.Network{"default": {Subnet: "10.1.0.0/24"}}, model.Service{Name: "w", Networks: att("10.2.0.5")}),
	}
	if err := Prepare(context.Background(), p, entries, nil, true); err != nil {
		t.Fatal(err)
	}
	if entries[0].Err != nil || entries[1].Err != nil {
		t.Fatalf("a: %v, b: %v", entries[0].Err, entries[1].Err)
	}
	if _, ok := entries[1].Project.Services[0].Networks["a_default"]; !ok {
		t.Errorf("external network not resolved: %v", entries[1].Project.Services[0].Networks)
	}
	ra, _ := p.ReadRecord("a_default")
	rb, _ := p.ReadRecord("b_default")
	if ra.Subnet == rb.Subnet {
		t.Errorf("two networks share subnet %s", ra.Subnet)
	}
	if entries[2].Err == nil || !strings.Contains(entries[2].Err.Error(), `external network "nope" does not exist`) {
		t.Errorf("missing external network: %v", entries[2].Err)
	}
	if entries[3].Err == nil || !strings.Contains(entries[3].Err.Error(), "10.2.0.5 is not a usable address of 10.1.0.0/24") {
		t.Errorf("address outside subnet: %v", entries[3].Err)
	}
}

func TestRenderHosts(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	entries := []model.Entry{testProject("app", map[string]model.Network{"default": {Subnet: "10.89.9.0/24"}},
		model.Service{Name: "web", Networks: att("10.89.9.10")},
		model.Service{Name: "db", ContainerName: "pg", Networks: att("10.89.9.20", "database")},
	)}
	if err := Prepare(context.Background(), p, entries, nil, true); err != nil {
		t.Fatal(err)
	}
	b, err := renderHosts(p, &netInfo{ID: "app-web", Hostname: "www", Networks: map[string]string{"app_default": "10.89.9.10"}, Extra: []string{"gw:10.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.1\tgw\n10.89.9.10\twww web app-web\n10.89.9.20\tdb pg database app-db\n"
	if string(b) != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", b, want)
	}
	if _, err := renderHosts(p, &netInfo{ID: "x", Extra: []string{"bad"}}); err == nil {
		t.Error("bad extra_hosts accepted")
	}
	r, err := renderResolv([]string{"192.0.2.53"}, []string{"example.org"}, false)
	if err != nil || !strings.Contains(string(r), "nameserver 192.0.2.53\nsearch example.org\n") {
		t.Errorf("resolv.conf %q %v", r, err)
	}
}

// TestPrepareNetworkName: a network's `name:` is the berth network's
// name, so another project joins it as external by that name; a second
// project declaring the same name is refused, naming the owner.
func TestPrepareNetworkName(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	entries := []model.Entry{
		testProject("caddy", map[string]model.Network{"web": {Name: "caddy-net"}},
			model.Service{Name: "proxy", Networks: map[string]model.NetworkAttachment{"web": {}}}),
		testProject("app", map[string]model.Network{"front": {External: true, ExternalName: "caddy-net"}},
			model.Service{Name: "api", Networks: map[string]model.NetworkAttachment{"front": {}}}),
		testProject("rival", map[string]model.Network{"default": {Name: "caddy-net"}},
			model.Service{Name: "x", Networks: att("")}),
	}
	if err := Prepare(context.Background(), p, entries, nil, true); err != nil {
		t.Fatal(err)
	}
	if entries[0].Err != nil || entries[1].Err != nil {
		t.Fatalf("caddy: %v, app: %v", entries[0].Err, entries[1].Err)
	}
	if r, err := p.ReadRecord("caddy-net"); err != nil || r.Project != "caddy" {
		t.Fatalf("network caddy-net: %+v, %v", r, err)
	}
	if _, err := p.ReadRecord("caddy_web"); err == nil {
		t.Errorf("network declared as caddy_web too")
	}
	for i, svc := range []string{"proxy", "api"} {
		if _, ok := entries[i].Project.Services[0].Networks["caddy-net"]; !ok {
			t.Errorf("%s is not on caddy-net: %v", svc, entries[i].Project.Services[0].Networks)
		}
	}
	if entries[2].Err == nil || !strings.Contains(entries[2].Err.Error(), "name caddy-net is already the network of project caddy") {
		t.Errorf("a second project declaring caddy-net: %v", entries[2].Err)
	}
}

// TestRenderHostsHostGateway: extra_hosts' host-gateway is the host's
// address on the container's first network that is not internal.
func TestRenderHostsHostGateway(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	entries := []model.Entry{testProject("app", map[string]model.Network{
		"back":  {Subnet: "10.89.8.0/24", Internal: true},
		"front": {Subnet: "10.89.9.0/24", Gateway: "10.89.9.254"},
	}, model.Service{Name: "web", Networks: map[string]model.NetworkAttachment{"back": {}, "front": {}}})}
	if err := Prepare(context.Background(), p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	extra := []string{"host.docker.internal:host-gateway"}
	b, err := renderHosts(p, &netInfo{ID: "app-web", Networks: map[string]string{"app_back": "10.89.8.2", "app_front": "10.89.9.2"}, Extra: extra})
	if err != nil || !strings.Contains(string(b), "10.89.9.254\thost.docker.internal\n") {
		t.Errorf("hosts with host-gateway (%v):\n%s", err, b)
	}
	b, err = renderHosts(p, &netInfo{ID: "app-web", Networks: map[string]string{"app_back": "10.89.8.2"}, Extra: extra})
	if err != nil || !strings.Contains(string(b), "10.89.8.1\thost.docker.internal\n") {
		t.Errorf("hosts with host-gateway on an internal network only (%v):\n%s", err, b)
	}
	if _, err := renderHosts(p, &netInfo{ID: "app-web", Extra: extra}); err == nil || !strings.Contains(err.Error(), "on no network") {
		t.Errorf("host-gateway without a network: %v", err)
	}
	if b, err := hostHosts(&netInfo{ID: "app-web", Extra: extra}); err != nil || !strings.Contains(string(b), "127.0.0.1\thost.docker.internal\n") {
		t.Errorf("host-gateway with network_mode host (%v):\n%s", err, b)
	}
}

// TestPrepareMAC: mac_address reaches the frozen spec and the member
// record; two members of a network with one MAC (given, or derived from
// an address) are refused, naming the holder.
func TestPrepareMAC(t *testing.T) {
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	mac := func(m string) map[string]model.NetworkAttachment {
		return map[string]model.NetworkAttachment{"default": {MAC: m}}
	}
	entries := []model.Entry{testProject("app", map[string]model.Network{"default": {Subnet: "10.89.9.0/24"}},
		model.Service{Name: "web", Networks: mac("02:42:ac:11:00:02")},
		model.Service{Name: "db", Networks: att("10.89.9.20")},
	)}
	if err := Prepare(context.Background(), p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	if got := entries[0].Project.Services[0].Networks["app_default"].MAC; got != "02:42:ac:11:00:02" {
		t.Errorf("web's MAC in the spec: %q", got)
	}
	ms, _ := p.Members("app_default")
	for _, m := range ms {
		if m.ID == "app-web" && m.MAC != "02:42:ac:11:00:02" {
			t.Errorf("web's member record: %+v", m)
		}
	}
	for _, taken := range []string{"02:42:ac:11:00:02", addrMAC(netip.MustParseAddr("10.89.9.20")).String()} {
		entries := []model.Entry{testProject("other", map[string]model.Network{"shared": {External: true, ExternalName: "app_default"}},
			model.Service{Name: "x", Networks: map[string]model.NetworkAttachment{"shared": {MAC: taken}}})}
		if err := Prepare(context.Background(), p, entries, nil, true); err != nil {
			t.Fatal(err)
		}
		if entries[0].Err == nil || !strings.Contains(entries[0].Err.Error(), "MAC address "+taken+" is already used by app-") {
			t.Errorf("MAC %s twice on one network: %v", taken, entries[0].Err)
		}
	}
}
