package network

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestInProcessBridgeMatchesPlugin attaches one namespace with the bridge
// and host-local plugins and another in process, on the same dual-stack
// network (MTU set) and an internal one, and finds the same interfaces,
// MACs, addresses, routes, sysctls, bridge port settings, host-local files
// and libcni cache entries, the container's own addresses aside. Each path
// then detaches what the other attached (an upgraded host detaching a
// container an older berth attached, and back), and each makes the bridge
// from nothing in the same way.
func TestInProcessBridgeMatchesPlugin(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	sh(t, "ip link set lo up")
	nets := map[string]model.NetworkAttachment{"dual": {}, "inner": {}}
	entries := []model.Entry{testProject("ref", map[string]model.Network{
		"dual":  {IPv6: true, MTU: 1400},
		"inner": {Internal: true},
	}, model.Service{Name: "plug", Networks: nets}, model.Service{Name: "proc", Networks: nets})}
	if err := Prepare(ctx, p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	plug, proc := &entries[0].Project.Services[0], &entries[0].Project.Services[1]
	n := New(p, os.Getenv("BERTH_TEST_CNI"), nil)
	attach := func(s *model.Service, exec bool) string {
		t.Helper()
		n.ExecBridgePlugin(exec)
		pin := p.NetnsPath(s.ID())
		if err := CreateNetns(pin); err != nil {
			t.Fatal(err)
		}
		var atts []Attachment
		for _, name := range model.NetworkOrder(s.Networks) {
			a := s.Networks[name]
			atts = append(atts, Attachment{Network: name, IP: a.IPv4, More: append([]string{a.IPv6}, a.More...)})
			if a.IPv6 == "" {
				atts[len(atts)-1].More = a.More
			}
		}
		if err := n.AttachNetns(ctx, s.ID(), pin, atts); err != nil {
			t.Fatalf("attaching %s (plugin exec %v): %v", s.Name, exec, err)
		}
		return pin
	}
	detach := func(s *model.Service, exec bool) {
		t.Helper()
		n.ExecBridgePlugin(exec)
		if err := n.DetachNetns(ctx, s.ID()); err != nil {
			t.Fatalf("detaching %s (plugin exec %v): %v", s.Name, exec, err)
		}
		pin := p.NetnsPath(s.ID())
		if left := sh(t, "nsenter --net="+pin+" ip -o link show | grep -v ': lo:' || true"); left != "" {
			t.Errorf("%s: interfaces left after DEL:\n%s", s.Name, left)
		}
		if err := RemoveNetns(pin); err != nil {
			t.Fatal(err)
		}
		if left := sh(t, "grep -rl "+s.ID()+" "+p.ipamDir()+" || true"); left != "" {
			t.Errorf("%s: reservations left after DEL: %s", s.Name, left)
		}
	}
	recs := map[string]*Record{}
	for _, name := range []string{"ref_dual", "ref_inner"} {
		r, err := p.ReadRecord(name)
		if err != nil {
			t.Fatal(err)
		}
		recs[name] = r
	}

	n.TakePluginTimes()
	plugPin := attach(plug, true)
	bridgesByPlugin := bridgeState(t, recs)
	if took := n.TakePluginTimes(); took["bridge ADD"] == 0 || took["bridge ADD (in process)"] != 0 {
		t.Fatalf("the plugin attach did not exec the bridge plugin: %v", took)
	}
	procPin := attach(proc, false)
	if took := n.TakePluginTimes(); took["bridge ADD"] != 0 || took["bridge ADD (in process)"] == 0 {
		t.Fatalf("the in-process attach ran the bridge plugin: %v", took)
	}
	if got := bridgeState(t, recs); got != bridgesByPlugin {
		t.Errorf("the in-process ADD changed the bridges:\nbefore:\n%s\nafter:\n%s", bridgesByPlugin, got)
	}
	want, got := containerState(t, p, plugPin, plug), containerState(t, p, procPin, proc)
	if want != got {
		t.Errorf("plugin and in-process attach differ:\n%s", lineDiff(want, got))
	}
	t.Logf("compared state (plugin = in process):\n%s", want)

	// Each detaches what the other attached.
	detach(plug, false)
	detach(proc, true)
	if took := n.TakePluginTimes(); took["bridge DEL (in process)"] == 0 || took["bridge DEL"] == 0 {
		t.Fatalf("the detaches did not take one path each: %v", took)
	}
	if v := sh(t, "ip -o link show type veth"); v != "" {
		t.Errorf("veths left:\n%s", v)
	}

	// Each makes the bridges from nothing.
	made := map[bool]string{}
	for _, exec := range []bool{false, true} {
		for _, r := range recs {
			sh(t, "ip link del "+r.Bridge)
		}
		attach(proc, exec)
		made[exec] = bridgeState(t, recs)
		detach(proc, exec)
	}
	if made[true] != made[false] {
		t.Errorf("bridges made by the plugin and in process differ:\n%s", lineDiff(made[true], made[false]))
	}
}

// bridgeState describes the bridges of recs: link settings, addresses and
// the accept_ra sysctl, without their MACs and indexes.
func bridgeState(t *testing.T, recs map[string]*Record) string {
	t.Helper()
	var out []string
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		br := recs[name].Bridge
		out = append(out, name+" link "+scrubJSON(t, sh(t, "ip -d -j link show dev "+br)))
		out = append(out, name+" addr "+scrubJSON(t, sh(t, "ip -j addr show dev "+br+" | sed 's/fe80::[0-9a-f:]*/LL/g'")))
		out = append(out, name+" accept_ra "+sh(t, "cat /proc/sys/net/ipv6/conf/"+br+"/accept_ra"))
	}
	return strings.Join(out, "\n")
}

// containerState describes a namespace attached as s: its links,
// addresses, routes and sysctls, the host end of each veth (link and
// bridge port settings), s's host-local files and libcni cache entries;
// s's own addresses, MACs and id are replaced by placeholders after the
// MACs are checked to be the ones derived from the addresses.
func containerState(t *testing.T, p Paths, pin string, s *model.Service) string {
	t.Helper()
	in := "nsenter --net=" + pin + " "
	var out []string
	for i, name := range model.NetworkOrder(s.Networks) {
		ifc := fmt.Sprintf("eth%d", i)
		a := s.Networks[name]
		var links []struct {
			Address   string `json:"address"`
			LinkIndex int    `json:"link_index"`
		}
		if err := json.Unmarshal([]byte(sh(t, in+"ip -j link show dev "+ifc)), &links); err != nil || len(links) != 1 {
			t.Fatalf("%s %s: %v", s.Name, ifc, err)
		}
		mac := links[0].Address
		if want := memberMAC(&Member{IP: a.IPv4}); mac != want {
			t.Errorf("%s %s: MAC %s, want %s (derived from %s)", s.Name, ifc, mac, want, a.IPv4)
		}
		for _, c := range []string{"net/ipv6/conf/%s/accept_dad", "net/ipv4/conf/%s/arp_notify", "net/ipv6/conf/%s/disable_ipv6",
			"net/ipv6/conf/%s/keep_addr_on_down", "net/ipv6/conf/%s/accept_ra", "net/ipv4/conf/%s/forwarding"} {
			c = fmt.Sprintf(c, ifc)
			out = append(out, c+"="+sh(t, in+"cat /proc/sys/"+c))
		}
		peer := fmt.Sprint(links[0].LinkIndex)
		host := sh(t, "ip -o link | awk -F': ' '$1 == "+peer+" {print $2}' | cut -d@ -f1")
		out = append(out, ifc+" host end "+scrubJSON(t, sh(t, "ip -d -j link show dev "+host)))
		out = append(out, ifc+" host port "+scrubJSON(t, sh(t, "bridge -d -j link show dev "+host)))
		out = append(out, ifc+" host sysctls "+sh(t, "cd /proc/sys/net && cat ipv6/conf/"+host+"/accept_dad ipv6/conf/"+host+"/disable_ipv6 ipv4/conf/"+host+"/arp_notify | tr '\\n' ' '"))
	}
	out = append(out, "net/ipv6/conf/lo/disable_ipv6="+sh(t, in+"cat /proc/sys/net/ipv6/conf/lo/disable_ipv6"))
	out = append(out, "links "+scrubJSON(t, sh(t, in+"ip -d -j link show")))
	out = append(out, "addrs "+scrubJSON(t, sh(t, in+"ip -j addr show")))
	out = append(out, "routes "+sh(t, in+"ip -4 route show table all; "+in+"ip -6 route show table all"))
	// host-local's files of s: name, content, and the files beside them.
	files := sh(t, "cd "+p.ipamDir()+" && grep -rl '"+s.ID()+"' . | sort")
	for _, f := range strings.Fields(files) {
		b, err := os.ReadFile(filepath.Join(p.ipamDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("ipam %s = %q", f, b))
	}
	out = append(out, "ipam layout "+sh(t, "cd "+p.ipamDir()+" && find . -name 'last_reserved_ip*' -o -name lock | sort | tr '\\n' ' '"))
	cache := sh(t, "cd "+p.cacheDir()+" && grep -rl '"+s.ID()+"' . | sort")
	for _, f := range strings.Fields(cache) {
		out = append(out, "cache "+f+" "+scrubCache(t, filepath.Join(p.cacheDir(), f)))
	}
	text := strings.Join(out, "\n")
	// The link-local addresses derive from the MACs.
	text = regexp.MustCompile(`fe80::[0-9a-f:]+[0-9a-f]`).ReplaceAllString(text, "LL")
	for i, name := range model.NetworkOrder(s.Networks) {
		a := s.Networks[name]
		addrs := append([]string{a.IPv4, a.IPv6}, a.More...)
		addrs = append(addrs, memberMAC(&Member{IP: a.IPv4}))
		for j, addr := range addrs {
			if addr != "" {
				text = regexp.MustCompile(`\b`+regexp.QuoteMeta(addr)+`\b`).ReplaceAllString(text, fmt.Sprintf("ADDR%d.%d", i, j))
			}
		}
	}
	return strings.ReplaceAll(text, s.ID(), "ID")
}

// volatileKeys are link fields that differ between any two links or
// change by the moment: indexes, names, MACs, timers, STP port numbers.
var volatileKeys = map[string]bool{
	"ifindex": true, "ifname": true, "address": true, "link": true, "link_index": true, "link_netnsid": true, "port_id": true,
	"port_no": true, "designated_port": true, "designated_root": true,
	"designated_bridge": true, "hold_timer": true, "message_age_timer": true, "forward_delay_timer": true,
	"id": true, "no": true, "root_id": true, "bridge_id": true, "hello_timer": true, "tcn_timer": true,
	"topology_change_timer": true, "gc_timer": true, "parentbus": true, "parentdev": true,
	"preferred_life_time": true, "valid_life_time": true, "altnames": true, "broadcast": true, "permaddr": true,
}

// scrubJSON drops volatileKeys from JSON output of ip or bridge.
func scrubJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	var scrub func(any) any
	scrub = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if volatileKeys[k] {
					delete(x, k)
					continue
				}
				x[k] = scrub(e)
			}
		case []any:
			for i := range x {
				x[i] = scrub(x[i])
			}
		}
		return v
	}
	b, _ := json.Marshal(scrub(v))
	return string(b)
}

// scrubCache is a libcni cache entry without the host veth's name and MAC
// and the netns path.
func scrubCache(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	delete(c, "netns")
	if res, ok := c["result"].(map[string]any); ok {
		if ifs, ok := res["interfaces"].([]any); ok && len(ifs) > 1 {
			ifs[1] = "HOSTVETH"
			if br, ok := ifs[0].(map[string]any); ok {
				delete(br, "mac")
			}
			if ct, ok := ifs[2].(map[string]any); ok {
				delete(ct, "sandbox")
			}
		}
	}
	out, _ := json.Marshal(c)
	return string(out)
}

// lineDiff lists the lines of a and b that differ.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
	}
	return strings.Join(out, "\n")
}

// TestInProcessBridgeTakes checks which bridge plugin calls run in
// process: ADD and DEL of the configuration berth writes (as libcni hands
// it to the plugin, with runtimeConfig and, on DEL, prevResult), and no
// other command, CNI_ARGS or option such as an older berth's ipMasq.
func TestInProcessBridgeTakes(t *testing.T) {
	r := &Record{Name: "n", Bridge: "br-x", Subnet: "10.89.67.0/24", Gateway: "10.89.67.1",
		More: []model.Pool{{Subnet: "fd42:67::/64", Gateway: "fd42:67::1"}}, MTU: 1400}
	l, err := confList(r, Paths{StateDir: "/s", RunDir: "/r"})
	if err != nil {
		t.Fatal(err)
	}
	conf := func(extra map[string]any) []byte {
		var m map[string]any
		if err := json.Unmarshal(l.Plugins[0].Bytes, &m); err != nil {
			t.Fatal(err)
		}
		m["name"], m["cniVersion"] = l.Name, l.CNIVersion
		m["runtimeConfig"] = map[string]any{"ips": []string{"10.89.67.5/24"}, "mac": "02:42:0a:59:43:05"}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	call := cniCall{command: "ADD", id: "p-s", netns: "/run/x", ifName: "eth0"}
	for _, c := range []struct {
		what  string
		stdin []byte
		call  cniCall
		want  bool
	}{
		{"ADD", conf(nil), call, true},
		{"DEL with prevResult", conf(map[string]any{"prevResult": map[string]any{"cniVersion": "1.1.0"}}), cniCall{command: "DEL", id: "p-s", ifName: "eth0"}, true},
		{"GC", conf(nil), cniCall{command: "GC"}, false},
		{"CHECK", conf(nil), cniCall{command: "CHECK", id: "p-s", ifName: "eth0"}, false},
		{"CNI_ARGS", conf(nil), cniCall{command: "ADD", id: "p-s", ifName: "eth0", args: "MAC=02:42:00:00:00:01"}, false},
		{"ipMasq", conf(map[string]any{"ipMasq": true}), call, false},
		{"vlan", conf(map[string]any{"vlan": 5}), call, false},
		{"other IPAM", conf(map[string]any{"ipam": map[string]any{"type": "dhcp"}}), call, false},
		{"IPAM resolvConf", conf(map[string]any{"ipam": map[string]any{"type": "host-local", "resolvConf": "/etc/resolv.conf"}}), call, false},
	} {
		if _, got := inProcessBridge(c.stdin, c.call); got != c.want {
			t.Errorf("%s: in process %v, want %v", c.what, got, c.want)
		}
	}
}
