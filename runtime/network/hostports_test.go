package network

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"sigs.k8s.io/knftables"

	"github.com/berth-dev/berth/compose/model"
)

// TestPortElems: which map elements a published port becomes, by host
// address and the container's address families.
func TestPortElems(t *testing.T) {
	dual := &Record{Name: "p_d", Bridge: "berth000000d", Subnet: "10.89.3.0/24", Gateway: "10.89.3.1",
		More: []model.Pool{{Subnet: "fd42:3::/64", Gateway: "fd42:3::1"}}}
	a := Attachment{Network: "p_d", IP: "10.89.3.5", More: []string{"fd42:3::5"}, Ports: []model.Port{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "0.0.0.0", HostPort: 8053, ContainerPort: 53, Protocol: "udp"},
		{HostIP: "127.0.0.1", HostPort: 8081, ContainerPort: 81},
		{HostIP: "::", HostPort: 8082, ContainerPort: 82, Protocol: "tcp"},
		{HostIP: "fd42:3::1", HostPort: 8083, ContainerPort: 83, Protocol: "tcp"},
	}}
	got, err := portElems(dual, a)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Map+" "+strings.Join(e.Key, " . ")+" : "+strings.Join(e.Value, " . "))
	}
	want := []string{
		"any-ports4 tcp . 8080 : 10.89.3.5 . 80",
		"any-ports6 tcp . 8080 : fd42:3::5 . 80",
		"any-ports4 udp . 8053 : 10.89.3.5 . 53",
		"any-ports6 udp . 8053 : fd42:3::5 . 53",
		"hostip-ports4 127.0.0.1 . tcp . 8081 : 10.89.3.5 . 81",
		"any-ports6 tcp . 8082 : fd42:3::5 . 82",
		"hostip-ports6 fd42:3::1 . tcp . 8083 : fd42:3::5 . 83",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("elements:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// The rendered transaction, as publish runs it.
	tx := newRulesTx()
	tx.Add(got[4].element("p-web"))
	if s, w := tx.String(), `add element inet berth hostip-ports4 { 127.0.0.1 . tcp . 8081 comment "p-web" : 10.89.3.5 . 81 }`; strings.TrimSpace(s) != w {
		t.Errorf("transaction:\n%s\nwant:\n%s", s, w)
	}

	for _, c := range []struct {
		rec  *Record
		port model.Port
		want string
	}{
		{&Record{Name: "p_i", Internal: true}, model.Port{HostPort: 1, ContainerPort: 1}, "network p_i is internal"},
		{dual, model.Port{ContainerPort: 80, Protocol: "tcp"}, "publishing needs a host port"},
		{dual, model.Port{HostIP: "localhost", HostPort: 1, ContainerPort: 1}, `host address "localhost"`},
		{dual, model.Port{HostPort: 1, ContainerPort: 1, Protocol: "sctp"}, "protocol must be tcp or udp"},
	} {
		_, err := portElems(c.rec, Attachment{IP: "10.89.3.5", Ports: []model.Port{c.port}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v on %s: error %v, want %q", c.port, c.rec.Name, err, c.want)
		}
	}
}

// TestPublishElements installs, replaces and removes a container's
// published ports as elements of the rules table's maps: one transaction
// per attach, idempotent, replacing a stale element of a container that
// is gone, kept when the network rules are installed again, and swept by
// GC when the container is gone without a DEL.
func TestPublishElements(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	r := &Record{Name: "p_a", Bridge: "berth0000000a", Subnet: "10.89.1.0/24", Gateway: "10.89.1.1"}
	sh(t, "ip link add berth0000000a type bridge")
	if err := syncRules(ctx, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	elems := func() string { return sh(t, "nft list table inet berth") }
	web := Attachment{Network: "p_a", IP: "10.89.1.2", Ports: []model.Port{
		{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80, Protocol: "tcp"},
		{HostPort: 18053, ContainerPort: 53, Protocol: "udp"},
	}}
	publish := func(id string, a Attachment) {
		t.Helper()
		if err := p.publish(ctx, id, "/proc/self/ns/net", []*Record{r}, []Attachment{a}); err != nil {
			t.Fatal(err)
		}
	}
	publish("p-web", web)
	got := elems()
	for _, w := range []string{
		`127.0.0.1 . tcp . 18080 comment "p-web" : 10.89.1.2 . 80`,
		`udp . 18053 comment "p-web" : 10.89.1.2 . 53`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("maps lack %q:\n%s", w, got)
		}
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/conf/berth0000000a/route_localnet"); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("route_localnet of the bridge is %q, want 1", b)
	}
	// Again (an attach without DEL): the same elements, once.
	publish("p-web", web)
	if again := elems(); again != got {
		t.Errorf("second publish changed the maps:\n%s\nwant:\n%s", again, got)
	}
	// The network rules installed again keep the elements.
	if err := syncRules(ctx, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	if again := elems(); again != got {
		t.Errorf("syncRules changed the maps:\n%s\nwant:\n%s", again, got)
	}
	// Fewer ports: the one dropped goes.
	web.Ports = web.Ports[:1]
	publish("p-web", web)
	if got := elems(); strings.Contains(got, "18053") || !strings.Contains(got, "18080") {
		t.Errorf("after dropping 18053:\n%s", got)
	}
	// A container that is gone left its element at another's key (no
	// DEL, no GC yet): the new owner replaces it.
	sh(t, `nft add element inet berth any-ports4 '{ tcp . 18090 comment "p-gone" : 10.89.1.9 . 80 }'`)
	publish("p-other", Attachment{Network: "p_a", IP: "10.89.1.3", Ports: []model.Port{{HostPort: 18090, ContainerPort: 8080, Protocol: "tcp"}}})
	if got := elems(); strings.Contains(got, "p-gone") || !strings.Contains(got, `tcp . 18090 comment "p-other" : 10.89.1.3 . 8080`) {
		t.Errorf("stale element not replaced:\n%s", got)
	}

	// DEL, twice.
	for range 2 {
		if err := p.unpublish(ctx, "p-web"); err != nil {
			t.Fatal(err)
		}
	}
	if got := elems(); strings.Contains(got, "p-web") {
		t.Errorf("elements of p-web left after unpublish:\n%s", got)
	}
	if _, err := os.Stat(p.portsRecord("p-web")); !os.IsNotExist(err) {
		t.Errorf("record of p-web left after unpublish: %v", err)
	}
	// A container attached again without its ports loses them.
	publish("p-x", Attachment{Network: "p_a", IP: "10.89.1.4", Ports: []model.Port{{HostPort: 18095, ContainerPort: 80, Protocol: "tcp"}}})
	publish("p-x", Attachment{Network: "p_a", IP: "10.89.1.4"})
	if _, err := os.Stat(p.portsRecord("p-x")); strings.Contains(elems(), "p-x") || !os.IsNotExist(err) {
		t.Errorf("p-x republished without ports keeps elements or its record (%v):\n%s", err, elems())
	}
	// GC: p-other is gone without a DEL (element and record), p-lost
	// left an element without a record; p-foreign's is not in this
	// state's subnets (another berth's), so it stays.
	sh(t, `nft add element inet berth hostip-ports4 '{ 127.0.0.1 . udp . 18091 comment "p-lost" : 10.89.1.8 . 53 }'
nft add element inet berth any-ports4 '{ udp . 18092 comment "p-foreign" : 10.89.9.8 . 53 }'`)
	publish("p-web", web)
	// p-dead holds its reservation, but its namespace is gone.
	if err := p.publish(ctx, "p-dead", "/nonexistent/netns", []*Record{r}, []Attachment{{Network: "p_a", IP: "10.89.1.7",
		Ports: []model.Port{{HostPort: 18097, ContainerPort: 80, Protocol: "tcp"}}}}); err != nil {
		t.Fatal(err)
	}
	holds := func(id string) bool { return id == "p-web" || id == "p-dead" }
	if err := p.gcPorts(ctx, holds, []netip.Prefix{netip.MustParsePrefix(r.Subnet)}); err != nil {
		t.Fatal(err)
	}
	if got := elems(); strings.Contains(got, "p-other") || strings.Contains(got, "p-lost") || strings.Contains(got, "p-dead") ||
		!strings.Contains(got, "p-web") || !strings.Contains(got, "p-foreign") {
		t.Errorf("after GC (only p-web alive):\n%s", got)
	}
	if _, err := os.Stat(p.portsRecord("p-other")); !os.IsNotExist(err) {
		t.Errorf("record of p-other left: %v", err)
	}
	// The last network goes: the table with it.
	if err := syncRules(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, "nft list ruleset"); got != "" {
		t.Errorf("rules left after the last network:\n%s", got)
	}
}

// TestSyncRulesUpgrade: a table made by a berth without published ports
// (no port maps or DNAT chains) takes the new rules in place.
func TestSyncRulesUpgrade(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	sh(t, `nft add table inet berth '{ comment "berth networks: isolation and masquerading" ; }'
nft add set inet berth bridges '{ type ifname ; }'
nft add chain inet berth forward '{ type filter hook forward priority filter ; }'
nft add chain inet berth postrouting '{ type nat hook postrouting priority srcnat ; }'`)
	r := &Record{Name: "p_a", Bridge: "berth0000000a", Subnet: "10.89.1.0/24", Gateway: "10.89.1.1"}
	if err := syncRules(ctx, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	got := sh(t, "nft list table inet berth")
	for _, w := range []string{"map any-ports4", "fib daddr type local", `ct status dnat oifname "berth0000000a" ip saddr 10.89.1.0/24 masquerade`} {
		if !strings.Contains(got, w) {
			t.Errorf("upgraded table lacks %q:\n%s", w, got)
		}
	}
}

// TestLegacyPortmapDetach: a container attached by a berth that published
// ports with the portmap plugin (host upgraded in place) loses its
// cni_hostport rules at DEL: libcni's cache holds the configuration its
// ADD had, portmap included, and DEL runs that one.
func TestLegacyPortmapDetach(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	sh(t, "ip link set lo up")
	svc := model.Service{Name: "web", Networks: att(""), Ports: []model.Port{{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80, Protocol: "tcp"}}}
	entries := []model.Entry{testProject("old", map[string]model.Network{"default": {}}, svc)}
	if err := Prepare(ctx, p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	s := &entries[0].Project.Services[0]
	r, err := p.ReadRecord("old_default")
	if err != nil {
		t.Fatal(err)
	}
	// The conflist as berth wrote it with portmap.
	list, err := confList(r, p)
	if err != nil {
		t.Fatal(err)
	}
	var conf map[string]any
	if err := json.Unmarshal(list.Bytes, &conf); err != nil {
		t.Fatal(err)
	}
	conf["plugins"] = append(conf["plugins"].([]any), map[string]any{"type": "portmap", "backend": "nftables", "snat": true,
		"capabilities": map[string]bool{"portMappings": true}})
	b, _ := json.Marshal(conf)
	legacy, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	n := New(p, os.Getenv("BERTH_TEST_CNI"), nil)
	if err := p.ensureNetworks(ctx, []*Record{r}); err != nil {
		t.Fatal(err)
	}
	pin := p.NetnsPath(s.ID())
	if err := CreateNetns(pin); err != nil {
		t.Fatal(err)
	}
	rt, err := runtimeConf(s.ID(), pin, "eth0", r, Attachment{Network: r.Name, IP: s.Networks[r.Name].IPv4, Ports: s.Ports})
	if err != nil {
		t.Fatal(err)
	}
	// What an older berth passed to portmap.
	var pm []map[string]any
	for _, p := range s.Ports {
		pm = append(pm, map[string]any{"hostPort": int(p.HostPort), "containerPort": int(p.ContainerPort), "protocol": "tcp"})
	}
	rt.CapabilityArgs["portMappings"] = pm
	if _, err := n.cni.AddNetworkList(ctx, legacy, rt); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, "nft list table ip cni_hostport"); !strings.Contains(got, `comment "`+s.ID()+`"`) {
		t.Fatalf("portmap made no rule for %s:\n%s", s.ID(), got)
	}
	if err := n.DetachNetns(ctx, s.ID()); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, "nft list table ip cni_hostport"); strings.Contains(got, s.ID()) || strings.Contains(got, "18080") {
		t.Errorf("portmap rules of %s left after DEL:\n%s", s.ID(), got)
	}
	if err := RemoveNetns(pin); err != nil {
		t.Fatal(err)
	}
}

// element is e as knftables writes it through `nft -f -`: the path the
// netlink one is compared with.
func (e portElem) element(id string) *knftables.Element {
	return &knftables.Element{Map: e.Map, Key: e.Key, Value: e.Value, Comment: knftables.PtrTo(id)}
}
