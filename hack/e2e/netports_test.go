package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// netportsProject: web serves on 80 and publishes it on 127.0.0.1 and on
// every address (IPv4 and IPv6: its network is dual-stack); client is a
// peer on the same network.
func netportsProject(reg, name string, local, all int) string {
	return fmt.Sprintf(`services:
  web:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: %[2]s
    ports: ["127.0.0.1:%[3]d:80", "%[4]d:80"]
  client:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
networks:
  default:
    enable_ipv6: true
`, reg, fmt.Sprintf(netHTTPD, name+"-ok"), local, all)
}

// TestNetworkPublishedPorts: a port published on 127.0.0.1 and one on every
// address answer from the host (127.0.0.1, the bridge's IPv4 and IPv6
// addresses), from a peer container and from the container itself through
// the host (hairpin); the 127.0.0.1 one does not answer through the
// bridge's address. After `berth down` of the project, no element of berth's
// port maps and no cni_hostport rule of it remains, while another
// project's published port still answers; with both gone, nothing is left.
func TestNetworkPublishedPorts(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("pub", netportsProject(e.registry, "pub", 18181, 18182))
	e.writeProject("pubtwo", netportsProject(e.registry, "pubtwo", 18183, 18184))
	if out, err := e.berth("apply"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	const web, client = "berth-pub-web.service", "berth-pub-client.service"
	for _, u := range []string{web, client, "berth-pubtwo-web.service", "berth-pubtwo-client.service"} {
		e.eventually(30*time.Second, u+" active", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	gw4 := strings.Fields(e.netMustIn(client, "ip -4 route show default"))[2]
	gw6 := strings.Fields(e.netMustIn(client, "ip -6 route show default"))[2]

	// get fetches / from addr:port, from the host (unit "") or a unit.
	get := func(unit, addr string, port int) string {
		cmd := fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 %s %d | tail -n 1`, addr, port)
		if unit == "" {
			out, _ := e.sb.Command(t.Context(), "sh", "-c", cmd).CombinedOutput()
			return strings.TrimSpace(string(out))
		}
		out, _ := e.netIn(unit, cmd)
		return out
	}
	answers := func(unit, addr string, port int, want string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if got = get(unit, addr, port); got == want {
				return
			}
		}
		t.Fatalf("%s:%d from %q: %q, want %q\n%s", addr, port, unit, got, want,
			e.sh("nft list table inet berth; grep -H . /proc/sys/net/ipv4/conf/berth*/route_localnet; ip -br addr; journalctl --no-pager -n 30 -u 'berth-pub*' || true"))
	}
	for _, c := range []struct {
		unit, addr string
		port       int
	}{
		{"", "127.0.0.1", 18181},
		{"", "127.0.0.1", 18182},
		{"", gw4, 18182},
		{"", gw6, 18182},
		{client, gw4, 18182},
		{client, gw6, 18182},
		{web, gw4, 18182},
		{web, gw6, 18182},
	} {
		answers(c.unit, c.addr, c.port, "pub-ok")
	}
	answers("", "127.0.0.1", 18183, "pubtwo-ok")
	if got := get(client, gw4, 18181); got == "pub-ok" {
		t.Errorf("the port published on 127.0.0.1 answers through %s from a container", gw4)
	}
	if got := get("", gw4, 18181); got == "pub-ok" {
		t.Errorf("the port published on 127.0.0.1 answers through %s from the host", gw4)
	}
	if els := e.sh(`nft list table inet berth | grep -c 'comment "pub-web"' || true`); els != "3" {
		t.Errorf("%s lines of map elements of pub-web, want 3 (127.0.0.1, every IPv4 and every IPv6 address):\n%s", els, e.sh("nft list table inet berth"))
	}

	e.mustBerth("down", "pub")
	e.eventually(20*time.Second, "pub's units gone", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-pub-*'") == ""
	})
	if left := e.sh(`nft list ruleset | grep -E 'comment "pub-|\. 1818[12] ' || true`); left != "" {
		t.Errorf("published ports of pub left after berth down:\n%s", left)
	}
	if left := e.sh(`(nft list table ip cni_hostport; nft list table ip6 cni_hostport) 2>/dev/null | grep -E 'dnat|masquerade' || true`); left != "" {
		t.Errorf("cni_hostport rules left after berth down:\n%s", left)
	}
	answers("", "127.0.0.1", 18184, "pubtwo-ok")
	if got := get("", "127.0.0.1", 18182); got == "pub-ok" {
		t.Errorf("pub's port still answers after berth down")
	}

	e.mustBerth("down", "pubtwo")
	e.eventually(20*time.Second, "pubtwo's units gone", func() bool {
		return e.sh("systemctl list-units --all --plain --no-legend 'berth-pubtwo-*'") == ""
	})
	netAssertNoLeftovers(e)
}
