package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNetworkNamesGatewayMAC: a network's `name:` is the berth network's
// name, which another project joins as external and reaches its members
// by name; extra_hosts' host-gateway is the joiner's bridge gateway,
// through which it reaches a published port; mac_address is the
// interface's MAC.
func TestNetworkNamesGatewayMAC(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("caddy", fmt.Sprintf(`services:
  proxy:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: %[2]s
    mac_address: "02:42:AC:11:00:42"
    ports: ["18095:80"]
    networks: [web]
networks:
  web:
    name: caddy-net
`, e.registry, fmt.Sprintf(netHTTPD, "proxy-ok")))
	e.mustBerth("apply")
	e.writeProject("app", fmt.Sprintf(`services:
  api:
    image: %s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
    extra_hosts: ["host.docker.internal:host-gateway"]
    networks: [caddy-net]
networks:
  caddy-net:
    external: true
`, e.registry))
	if out, err := e.berth("apply"); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, out, e.sh("journalctl --no-pager -n 60 -u 'berth-*' || true"))
	}
	const proxy, api = "berth-caddy-proxy.service", "berth-app-api.service"
	for _, u := range []string{proxy, api} {
		e.eventually(30*time.Second, u+" active", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	if _, err := os.Stat(filepath.Join(e.state, "networks", "caddy-net", "network.json")); err != nil {
		t.Errorf("no network caddy-net: %v\n%s", err, e.sh("ls "+e.state+"/networks"))
	}
	if _, err := os.Stat(filepath.Join(e.state, "networks", "caddy_web")); err == nil {
		t.Errorf("network declared as caddy_web despite its name")
	}

	// The joiner finds the proxy by name on caddy-net.
	e.eventually(10*time.Second, "api to fetch proxy by name", func() bool {
		out, err := e.netpodByName(api, "proxy", 80)
		return err == nil && out == "proxy-ok"
	})

	// host.docker.internal is the bridge gateway: the published port
	// answers there.
	gw := e.netMustIn(api, "ip route | awk '/^default/ {print $3}'")
	if hosts := e.netMustIn(api, "cat /etc/hosts"); !strings.Contains(hosts, gw+"\thost.docker.internal\n") {
		t.Errorf("host.docker.internal is not the gateway %s:\n%s", gw, hosts)
	}
	e.eventually(10*time.Second, "api to fetch host.docker.internal:18095", func() bool {
		out, err := e.netpodByName(api, "host.docker.internal", 18095)
		return err == nil && out == "proxy-ok"
	})

	if mac := e.netMustIn(proxy, "ip link show eth0 | awk '/ether/ {print $2}'"); mac != "02:42:ac:11:00:42" {
		t.Errorf("proxy's MAC is %s, want 02:42:ac:11:00:42", mac)
	}
}
