package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetworkDualStackBridgeOpts: an enable_ipv6 network with its own
// IPv6 subnet and one with a ULA berth picks give containers both
// families, default routes included; a peer resolves the other by name
// to its IPv6 address (/etc/hosts) and fetches from it over IPv6. The
// bridge driver_opts name the bridge and set its MTU, the highest
// priority network is eth0, link_local_ips are on the interface, and three
// ipam.config entries (IPv4 and two IPv6) give an address in each subnet.
func TestNetworkDualStackBridgeOpts(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("dual", fmt.Sprintf(`services:
  db:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: %[2]s
    networks:
      v6:
        ipv6_address: fd42:e2e::10
        link_local_ips: [169.254.7.7]
      two:
        priority: 10
  web:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
    networks: [v6, ula]
networks:
  v6:
    enable_ipv6: true
    driver_opts:
      com.docker.network.bridge.name: br-e2e-v6
      com.docker.network.driver.mtu: "1400"
    ipam:
      config:
        - subnet: 10.89.70.0/24
        - subnet: fd42:e2e::/64
  ula:
    enable_ipv6: true
  two:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 10.89.71.0/24
        - subnet: fd42:71::/64
        - subnet: fd42:72::/64
`, e.registry, fmt.Sprintf(netHTTPD, "db-ok")))
	if out, err := e.berth("apply"); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, out, e.sh("journalctl --no-pager -n 60 -u 'berth-*' || true"))
	}
	const db, web = "berth-dual-db.service", "berth-dual-web.service"
	for _, u := range []string{db, web} {
		e.eventually(30*time.Second, u+" active", func() bool { return e.prop(u, "ActiveState") == "active" })
	}

	// The custom bridge exists on the host (the sandbox's netns) with its MTU.
	if l := e.sh("ip -o link show dev br-e2e-v6"); !strings.Contains(l, " mtu 1400 ") {
		t.Errorf("bridge br-e2e-v6 does not have MTU 1400: %s", l)
	}
	// db: two (priority 10) is eth0 with an address in each of its IPv4
	// subnets and the default route; v6 is eth1 with the fixed IPv6
	// address, the link-local one and the MTU.
	eth0 := e.netMustIn(db, "ip -o addr show dev eth0 scope global")
	for _, sub := range []string{"inet 10.89.71.", "inet6 fd42:71::", "inet6 fd42:72::"} {
		if !strings.Contains(eth0, sub) {
			t.Errorf("db's eth0 (network two, three ipam subnets, priority 10) has no %s*:\n%s", sub, eth0)
		}
	}
	if r := e.netMustIn(db, "ip -4 route show default"); !strings.Contains(r, "dev eth0") {
		t.Errorf("db's IPv4 default route is not through eth0 (highest priority): %s", r)
	}
	eth1 := e.netMustIn(db, "ip -o addr show dev eth1")
	for _, want := range []string{"inet 10.89.70.", "inet 169.254.7.7/16", "inet6 fd42:e2e::10/64"} {
		if !strings.Contains(eth1, want) {
			t.Errorf("db's eth1 (network v6) lacks %q:\n%s", want, eth1)
		}
	}
	if l := e.netMustIn(db, "ip -o link show dev eth1"); !strings.Contains(l, " mtu 1400 ") {
		t.Errorf("db's eth1 does not have MTU 1400: %s", l)
	}
	// web: both families on both networks, and an IPv6 default route.
	for _, ifc := range []string{"eth0", "eth1"} {
		out := e.netMustIn(web, "ip -o addr show dev "+ifc+" scope global")
		if !strings.Contains(out, "inet ") || !strings.Contains(out, "inet6 fd") {
			t.Errorf("web's %s is not dual-stack:\n%s", ifc, out)
		}
	}
	// Both networks add an IPv6 default route, which the kernel merges
	// into one multipath route (docs/networking.md); one goes via a ULA gateway.
	if r := e.netMustIn(web, "ip -6 route get 2001:db8::1"); !strings.Contains(r, "via fd") {
		t.Errorf("web has no IPv6 default route: %q", r)
	}
	// The ULA network got a /64 in fd00::/8 that is recorded.
	b, err := os.ReadFile(filepath.Join(e.state, "networks", "dual_ula", "network.json"))
	if err != nil || !strings.Contains(string(b), `"subnet": "fd`) {
		t.Errorf("network dual_ula has no ULA subnet: %v\n%s", err, b)
	}

	// web resolves db to both its addresses on v6, and reaches it over IPv6.
	hosts := e.netMustIn(web, "cat /etc/hosts")
	if !strings.Contains(hosts, "fd42:e2e::10\tdb ") {
		t.Errorf("web's /etc/hosts has no IPv6 line for db:\n%s", hosts)
	}
	e.eventually(10*time.Second, "web to ping db over IPv6 by name", func() bool {
		out, err := e.netIn(web, "ping -6 -c 1 -W 2 db")
		return err == nil && strings.Contains(out, "fd42:e2e::10")
	})
	var out string
	deadline := time.Now().Add(10 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		// busybox-static's wget crashes on a bracketed IPv6 URL; nc speaks HTTP as well.
		if out, err = e.netIn(web, `printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 fd42:e2e::10 80 | tail -n 1`); err == nil && out == "db-ok" {
			break
		}
	}
	if out != "db-ok" {
		t.Errorf("web fetching http://[fd42:e2e::10]:80/: %v %s", err, out)
	}
	// web's address on the ula network is in fd00::/8.
	ula := e.netMustIn(web, "ip -6 -o addr show dev eth0 scope global | awk '{print $4}' | cut -d/ -f1")
	if a, err := netip.ParseAddr(ula); err != nil || !netip.MustParsePrefix("fd00::/8").Contains(a) {
		t.Errorf("web's eth0 IPv6 address %q is not a ULA", ula)
	}
}

// TestNetworkOverlapRefused: a project whose subnet overlaps another berth
// network's is refused by plan and apply with both networks named; the
// running project is untouched and nothing of the refused one is made.
func TestNetworkOverlapRefused(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("first", fmt.Sprintf(`services:
  a:
    image: %s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
networks:
  default:
    ipam:
      config:
        - subnet: 10.89.80.0/24
`, e.registry))
	e.mustBerth("apply")
	const a = "berth-first-a.service"
	e.eventually(30*time.Second, a+" active", func() bool { return e.prop(a, "ActiveState") == "active" })
	pid := e.mainPID(a)

	e.writeProject("second", fmt.Sprintf(`services:
  b:
    image: %s/busybox:latest
    command: ["sleep", "600"]
networks:
  default:
    ipam:
      config:
        - subnet: 10.89.80.128/25
`, e.registry))
	for _, cmd := range []string{"plan", "apply"} {
		out, err := e.berth(cmd)
		if err == nil {
			t.Errorf("berth %s accepted an overlapping subnet:\n%s", cmd, out)
		}
		for _, want := range []string{"second_default", "10.89.80.128/25", "first_default", "10.89.80.0/24", "project first", "compose.yaml:"} {
			if !strings.Contains(out, want) {
				t.Errorf("berth %s: error does not name %q:\n%s", cmd, want, out)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(e.state, "networks", "second_default")); err == nil {
		t.Errorf("the refused network second_default was recorded")
	}
	if st := e.prop("berth-second-b.service", "LoadState"); st != "not-found" {
		t.Errorf("the refused project's unit exists: %s", st)
	}
	if e.prop(a, "ActiveState") != "active" || e.mainPID(a) != pid {
		t.Errorf("the running project was touched: %s pid %d (was %d)", e.prop(a, "ActiveState"), e.mainPID(a), pid)
	}
}
