package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netIn runs a command in the namespaces (mount, net, uts) of unit's
// container, i.e. with its /etc/hosts and its network.
func (e *berthEnv) netIn(unit, cmd string) (string, error) {
	pid := e.mainPID(unit)
	if pid == 0 {
		e.t.Fatalf("%s has no main PID", unit)
	}
	out, err := e.sb.Command(e.t.Context(), "nsenter", "-t", fmt.Sprint(pid), "-m", "-n", "-u", "--", "sh", "-c", cmd).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (e *berthEnv) netMustIn(unit, cmd string) string {
	e.t.Helper()
	out, err := e.netIn(unit, cmd)
	if err != nil {
		e.t.Fatalf("in %s: %s: %v\n%s", unit, cmd, err, out)
	}
	return out
}

const netHTTPD = `["sh", "-c", "mkdir -p /www && echo %s > /www/index.html && exec httpd -f -p 80 -h /www"]`

func netProject(reg, dbTag string) string {
	return fmt.Sprintf(`services:
  db:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command: %[2]s
    environment: {TAG: %[3]s}
    networks:
      default:
        aliases: [database]
  web:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command: %[4]s
    hostname: webhost
    extra_hosts: ["gateway.test:192.0.2.1"]
    dns: ["192.0.2.53"]
    ports: ["127.0.0.1:18080:80"]
  side:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command: ["sleep", "600"]
    network_mode: "service:web"
  island:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command: ["sleep", "600"]
    networks: [inner]
networks:
  inner:
    internal: true
`, reg, fmt.Sprintf(netHTTPD, "db-ok"), dbTag, fmt.Sprintf(netHTTPD, "web-ok"))
}

// TestNetworkCompose: names, published ports, recreation, internal
// networks, network_mode service:, isolation between projects, and no
// leftovers once the projects are gone.
func TestNetworkCompose(t *testing.T) {
	e := newBerthEnv(t)
	e.writeProject("netapp", netProject(e.registry, "one"))
	e.writeProject("other", fmt.Sprintf("services:\n  peer:\n    image: %s/busybox:latest\n    stop_grace_period: 1s\n    command: %s\n", e.registry, fmt.Sprintf(netHTTPD, "peer-ok")))
	e.mustBerth("apply")
	for _, u := range []string{"berth-netapp-db.service", "berth-netapp-web.service", "berth-netapp-side.service", "berth-netapp-island.service", "berth-other-peer.service"} {
		e.eventually(30*time.Second, u+" active", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	web := "berth-netapp-web.service"
	// The test image's busybox is static glibc: its wget and getaddrinfo
	// crash without NSS modules, which the image lacks. So the test fetches
	// with nc and resolves names as glibc's files module does, from the
	// container's /etc/hosts.
	fetch := func(unit, url string) (string, error) {
		host, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
		host, port, ok := strings.Cut(host, ":")
		if !ok {
			port = "80"
		}
		out, err := e.netIn(unit, fmt.Sprintf(`h=%s; ip=$(awk -v n="$h" '{for(i=2;i<=NF;i++) if($i==n){print $1; exit}}' /etc/hosts); printf 'GET /%s HTTP/1.0\r\n\r\n' | nc -w 3 "${ip:-$h}" %s | tail -n 1`, host, path, port))
		if err == nil && (out == "" || strings.HasPrefix(out, "nc:")) {
			err = fmt.Errorf("no answer: %s", out)
		}
		return out, err
	}
	mustFetch := func(unit, url, want string) {
		t.Helper()
		var out string
		var err error
		for i := 0; i < 20; i++ { // httpd may still be starting
			if out, err = fetch(unit, url); err == nil && out == want {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Fatalf("%s: fetching %s: %q, %v; want %q\nhosts:\n%s", unit, url, out, err, want, e.netMustIn(unit, "cat /etc/hosts"))
	}

	// Names: service name and alias; own hostname, extra_hosts, dns.
	mustFetch(web, "http://db/", "db-ok")
	mustFetch(web, "http://database/", "db-ok")
	hosts := e.netMustIn(web, "cat /etc/hosts")
	for _, want := range []string{"webhost", "192.0.2.1\tgateway.test"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("web's /etc/hosts lacks %q:\n%s", want, hosts)
		}
	}
	if r := e.netMustIn(web, "cat /etc/resolv.conf"); !strings.Contains(r, "nameserver 192.0.2.53") {
		t.Errorf("dns not honoured:\n%s", r)
	}
	if h := e.netMustIn(web, "hostname"); h != "webhost" {
		t.Errorf("hostname %q, want webhost", h)
	}

	// The host reaches the published port on 127.0.0.1.
	var hostOut string
	e.eventually(10*time.Second, "127.0.0.1:18080 from the host (last answer: "+hostOut+")", func() bool {
		out, err := e.sb.Command(t.Context(), "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 127.0.0.1 18080 | tail -n 1`).CombinedOutput()
		hostOut = strings.TrimSpace(string(out))
		return err == nil && hostOut == "web-ok"
	})

	// network_mode service:web shares web's localhost.
	mustFetch("berth-netapp-side.service", "http://127.0.0.1:80/", "web-ok")

	// An internal network has no route out.
	if r := e.netMustIn("berth-netapp-island.service", "ip route"); strings.Contains(r, "default") {
		t.Errorf("internal network has a default route:\n%s", r)
	}
	webIP := strings.Fields(e.netMustIn(web, "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"))[0]
	if out, err := fetch("berth-netapp-island.service", "http://"+webIP+"/"); err == nil {
		t.Errorf("internal network reached %s: %s", webIP, out)
	}

	// Two projects on separate networks cannot reach each other.
	peerIP := strings.Fields(e.netMustIn("berth-other-peer.service", "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"))[0]
	mustFetch("berth-other-peer.service", "http://127.0.0.1/", "peer-ok")
	if out, err := fetch(web, "http://"+peerIP+"/"); err == nil {
		t.Errorf("project netapp reached project other at %s: %s", peerIP, out)
	}

	// db is recreated; web still finds it by name.
	dbIP := e.netMustIn(web, "grep -w db /etc/hosts | cut -f1")
	e.writeProject("netapp", netProject(e.registry, "two"))
	if out := e.mustBerth("apply"); !strings.Contains(out, "netapp/db: recreated") {
		t.Fatalf("db not recreated:\n%s", out)
	}
	e.eventually(30*time.Second, "db active", func() bool { return e.prop("berth-netapp-db.service", "ActiveState") == "active" })
	mustFetch(web, "http://db/", "db-ok")
	if now := e.netMustIn(web, "grep -w db /etc/hosts | cut -f1"); now != dbIP {
		t.Errorf("db moved from %s to %s", dbIP, now)
	}

	// Everything removed: no namespaces, veths, bridges, rules, reservations.
	for _, p := range []string{"netapp", "other"} {
		if err := os.RemoveAll(filepath.Join(e.config, p)); err != nil {
			t.Fatal(err)
		}
	}
	out := e.mustBerth("apply")
	e.eventually(20*time.Second, "units gone after:\n"+out, func() bool {
		return e.sh("systemctl list-units --plain --no-legend --state=active,activating,deactivating 'berth-netapp-*' 'berth-other-*'") == ""
	})
	netAssertNoLeftovers(e)
}

// netAssertNoLeftovers finds no berth netns pin, veth, bridge, rule naming
// a berth bridge or subnet, or address reservation in the sandbox.
func netAssertNoLeftovers(e *berthEnv) {
	e.t.Helper()
	checks := map[string]string{
		"netns pins":        "find /run/berth/netns -mindepth 1 2>/dev/null || true",
		"veths":             "ip -o link show type veth",
		"bridges":           "ip -o link show type bridge",
		"iptables rules":    "iptables-save | grep -E 'berth|10\\.89\\.' || true",
		"nftables rules":    "nft list ruleset 2>/dev/null | grep -v '^\\s*#' | grep -E 'berth|10\\.89\\.|dport 18[0-9]{3}|\\. 18[0-9]{3} ' || true",
		"IPAM reservations": "find /run/berth/cni/ipam -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null || true",
		"CNI cache entries": "find /run/berth/cni/cache -type f 2>/dev/null || true",
		"network records":   "find " + e.state + "/networks -mindepth 1 -maxdepth 1 -type d 2>/dev/null || true",
	}
	failed := false
	for what, cmd := range checks {
		if out := e.sh(cmd); out != "" {
			e.t.Errorf("%s left:\n%s", what, out)
			failed = true
		}
	}
	if failed {
		e.t.Logf("berth's network messages:\n%s", e.sh("journalctl --no-pager -o short-precise | grep -iE 'network|cni|netns|cleanup|detach' | tail -40 || true"))
	}
}
