package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// netpodYAML is a pod whose web container publishes port 80 as hostPort
// 18090; its sidecar only shares the pod's network.
const netpodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: netpod
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: REGISTRY/busybox:latest
    command: [sh, -c, "mkdir -p /www && echo pod-web-ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
    - containerPort: 80
      hostPort: 18090
  - name: side
    image: REGISTRY/busybox:latest
    command: [sleep, "600"]
`

const (
	netpodPodUnit  = "berth-netpod.pod.service"
	netpodWebUnit  = "berth-netpod-web.service"
	netpodSideUnit = "berth-netpod-side.service"
)

// netpodHTTP fetches / from addr:port with busybox nc: from the sandbox
// (the host) when unit is "", else inside unit's container.
func (e *berthEnv) netpodHTTP(unit, addr string, port int) (string, error) {
	script := fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 %s %d | tail -n 1`, addr, port)
	if unit != "" {
		return e.netIn(unit, strings.Replace(script, "busybox nc", "nc", 1))
	}
	out, err := e.sb.Command(e.t.Context(), "sh", "-c", script).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// netpodMustHTTP waits up to 10 s for want from addr:port.
func (e *berthEnv) netpodMustHTTP(unit, addr string, port int, want string) {
	e.t.Helper()
	var out string
	var err error
	for range 40 {
		if out, err = e.netpodHTTP(unit, addr, port); err == nil && out == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	from := unit
	if from == "" {
		from = "the host"
	}
	e.t.Fatalf("from %s: %s:%d answered %q (%v), want %q", from, addr, port, out, err, want)
}

// netpodCounts counts what the pod's attachment (address ip) adds in the
// sandbox's netns.
func (e *berthEnv) netpodCounts(ip string) map[string]int {
	count := func(cmd string) int {
		n, err := strconv.Atoi(e.sh("{ " + cmd + "; } | wc -l"))
		if err != nil {
			e.t.Fatal(err)
		}
		return n
	}
	ipRE := `(^|[^0-9])` + strings.ReplaceAll(ip, ".", `\.`) + `([^0-9]|$)`
	return map[string]int{
		"veths":                         count("ip -o link show type veth"),
		"CNI cache entries":             count("find /run/berth/cni/cache -type f 2>/dev/null"),
		"IPAM reservations":             count("find /run/berth/cni/ipam -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null"),
		"nft rules for port 18090":      count("nft list ruleset 2>/dev/null | grep -w 18090"),
		"nft rules naming the pod":      count("nft list ruleset 2>/dev/null | grep -E '" + ipRE + "'"),
		"iptables rules naming the pod": count("iptables-save | grep -E '" + ipRE + "'"),
	}
}

// netpodAddr is the IPv4 address on eth0 in unit's container.
func (e *berthEnv) netpodAddr(unit string) string {
	return e.netMustIn(unit, "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1")
}

// TestNetworkPod: a Kubernetes pod's netns is attached once to its
// project's default network; its hostPort is reachable from the host on
// 127.0.0.1, from its own containers through the host's address (hairpin);
// its containers share the pod's address, named in their /etc/hosts; its
// address survives a restart; stopping the pod removes the attachment and
// its rules, removing the file removes its network.
func TestNetworkPod(t *testing.T) {
	e := newBerthEnv(t)
	file := e.kubeWrite("netpod", netpodYAML)
	e.mustBerth("apply")
	for _, u := range []string{netpodPodUnit, netpodWebUnit, netpodSideUnit} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 60 -u 'berth-netpod*' || true"))
		}
	}

	// One attachment for the whole pod, shared by both containers.
	ip := e.netpodAddr(netpodWebUnit)
	if ip == "" || e.netpodAddr(netpodSideUnit) != ip {
		t.Fatalf("pod address: web %q, side %q", ip, e.netpodAddr(netpodSideUnit))
	}
	on := e.netpodCounts(ip)
	if on["veths"] != 1 || on["CNI cache entries"] != 1 || on["nft rules for port 18090"] == 0 {
		t.Errorf("one pod attachment with a published port expected, found %v", on)
	}
	hosts := e.netMustIn(netpodSideUnit, "cat /etc/hosts")
	if !strings.Contains(hosts, ip+"\tnetpod") {
		t.Errorf("side's /etc/hosts does not name the pod's address %s:\n%s", ip, hosts)
	}
	if _, err := e.netIn(netpodSideUnit, "test -f /etc/resolv.conf"); err != nil {
		t.Errorf("no /etc/resolv.conf in the pod's containers")
	}

	// hostPort: from the host on 127.0.0.1, from the sidecar on the pod's
	// own address and through the host's (gateway) address: hairpin.
	e.netpodMustHTTP("", "127.0.0.1", 18090, "pod-web-ok")
	e.netpodMustHTTP(netpodSideUnit, ip, 80, "pod-web-ok")
	gw := e.netMustIn(netpodSideUnit, "ip route | awk '/^default/ {print $3}'")
	e.netpodMustHTTP(netpodSideUnit, gw, 18090, "pod-web-ok")

	// Stopping the pod removes its attachment and its rules.
	e.sh("systemctl stop " + netpodPodUnit)
	off := e.netpodCounts(ip)
	for what, n := range off {
		if n != 0 {
			t.Errorf("%d %s left after stopping the pod (running: %d)\n%s", n, what, on[what], e.sh("nft list ruleset; iptables-save"))
		}
	}
	if out, _ := e.netpodHTTP("", "127.0.0.1", 18090); out == "pod-web-ok" {
		t.Errorf("stopped pod still answers on 127.0.0.1:18090: %q", out)
	}

	// Started again, it has the same address.
	e.mustBerth("apply")
	e.eventually(30*time.Second, "the pod's containers active again", func() bool {
		return e.prop(netpodWebUnit, "ActiveState") == "active" && e.prop(netpodSideUnit, "ActiveState") == "active"
	})
	if again := e.netpodAddr(netpodWebUnit); again != ip {
		t.Errorf("pod address moved from %s to %s", ip, again)
	}
	e.netpodMustHTTP("", "127.0.0.1", 18090, "pod-web-ok")

	// Removing the file removes the pod and its network.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	e.mustBerth("apply")
	e.eventually(20*time.Second, "the pod's units gone", func() bool {
		return !strings.Contains(e.sh("systemctl list-units --all --plain --no-legend 'berth-*'"), "berth-netpod")
	})
	for what, n := range e.netpodCounts(ip) {
		if n != 0 {
			t.Errorf("%d %s left after removing the pod", n, what)
		}
	}
	if b := e.sh("ip -o link show type bridge"); b != "" {
		t.Errorf("bridge left after removing the pod's project:\n%s", b)
	}
	if r := e.sh("find " + e.state + "/networks -mindepth 1 -maxdepth 1 -type d"); r != "" {
		t.Errorf("network records left: %s", r)
	}
}

func netpodModesProjects(reg string) (modes, ext string) {
	modes = fmt.Sprintf(`services:
  web:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    restart: always
    container_name: webbox
    command: %[2]s
    ports: ["18091:80"]
  side:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
    network_mode: "service:web"
  client:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
    hostname: clienthost
    extra_hosts: ["gw.test:192.0.2.1"]
    dns: ["192.0.2.53"]
    dns_search: ["example.test"]
`, reg, fmt.Sprintf(netHTTPD, "web-ok"))
	ext = fmt.Sprintf(`services:
  tap:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
    network_mode: "container:webbox"
  guest:
    image: %[1]s/busybox:latest
    stop_signal: SIGKILL
    command: ["sleep", "600"]
networks:
  default:
    external: true
    name: modes_default
`, reg)
	return modes, ext
}

// netpodByName fetches / from name:port inside unit, resolving name from
// the container's /etc/hosts (the test image's static busybox has no NSS).
func (e *berthEnv) netpodByName(unit, name string, port int) (string, error) {
	return e.netIn(unit, fmt.Sprintf(`ip=$(awk -v n=%q '{for(i=2;i<=NF;i++) if($i==n){print $1; exit}}' /etc/hosts); test -n "$ip" || { echo "no $ip in /etc/hosts"; exit 1; }; printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 "$ip" %d | tail -n 1`, name, port))
}

// TestNetworkModes: network_mode service:NAME and container:NAME (of
// another project) share the peer's namespace and follow it when it is
// restarted or crashes; an external network is joined and its members
// found by name; hostname, extra_hosts, dns and dns_search are honoured;
// a container reaches a published port through the host's address.
func TestNetworkModes(t *testing.T) {
	e := newBerthEnv(t)
	modes, ext := netpodModesProjects(e.registry)
	e.writeProject("modes", modes)
	e.writeProject("ext", ext) // sorts first: apply prepares the declaring project first anyway
	if out, err := e.berth("apply"); err != nil {
		t.Fatalf("apply: %v\n%s\n%s", err, out, e.sh("journalctl --no-pager -n 60 -u 'berth-*' || true"))
	}
	const web, side, client, tap, guest = "berth-modes-web.service", "berth-modes-side.service", "berth-modes-client.service", "berth-ext-tap.service", "berth-ext-guest.service"
	for _, u := range []string{web, side, client, tap, guest} {
		e.eventually(30*time.Second, u+" active", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	// Resolved peers and joiners are stable: nothing to do right after.
	if out := e.mustBerth("plan"); !strings.Contains(out, "No changes.") {
		t.Errorf("plan right after apply:\n%s", out)
	}

	// hostname, extra_hosts, dns, dns_search.
	if h := e.netMustIn(client, "hostname"); h != "clienthost" {
		t.Errorf("hostname %q, want clienthost", h)
	}
	if h := e.netMustIn(client, "cat /etc/hosts"); !strings.Contains(h, "192.0.2.1\tgw.test") {
		t.Errorf("extra_hosts missing:\n%s", h)
	}
	r := e.netMustIn(client, "cat /etc/resolv.conf")
	for _, want := range []string{"nameserver 192.0.2.53", "search example.test"} {
		if !strings.Contains(r, want) {
			t.Errorf("resolv.conf lacks %q:\n%s", want, r)
		}
	}

	// external: true joins modes_default; web is found by name and by
	// container_name from the other project.
	for _, name := range []string{"web", "webbox"} {
		e.eventually(10*time.Second, "guest to fetch web as "+name, func() bool {
			out, err := e.netpodByName(guest, name, 80)
			return err == nil && out == "web-ok"
		})
	}

	// Hairpin: through the host's address (the bridge gateway) and the
	// published port, from another container and from web itself.
	gw := e.netMustIn(client, "ip route | awk '/^default/ {print $3}'")
	e.netpodMustHTTP(client, gw, 18091, "web-ok")
	e.netpodMustHTTP(web, gw, 18091, "web-ok")

	// service: and container: share web's namespace (its localhost).
	e.netpodMustHTTP(side, "127.0.0.1", 80, "web-ok")
	e.netpodMustHTTP(tap, "127.0.0.1", 80, "web-ok")

	// They follow web into its new namespace when web is restarted by
	// hand, and when it crashes and systemd restarts it.
	netns := func(unit string) string {
		pid := e.mainPID(unit)
		if pid == 0 {
			return ""
		}
		out, err := e.sb.Command(t.Context(), "readlink", fmt.Sprintf("/proc/%d/ns/net", pid)).CombinedOutput()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	follow := func(how string) {
		t.Helper()
		// The kernel may hand the new namespace the old one's inode number
		// once the old is freed, so "new" is judged by web's PID: a joiner
		// that kept the old namespace would keep it alive and apart.
		old, oldPID := netns(web), e.mainPID(web)
		switch how {
		case "restart":
			e.sh("systemctl restart " + web)
		case "crash":
			e.sh(fmt.Sprintf("kill -KILL %d", e.mainPID(web)))
		}
		var state string
		deadline := time.Now().Add(30 * time.Second)
		for {
			now := netns(web)
			state = fmt.Sprintf("web %s %s (was %s), side %s %s, tap %s %s", e.prop(web, "ActiveState"), now, old,
				e.prop(side, "ActiveState"), netns(side), e.prop(tap, "ActiveState"), netns(tap))
			if now != "" && e.mainPID(web) != oldPID && e.prop(web, "ActiveState") == "active" &&
				netns(side) == now && netns(tap) == now &&
				e.prop(side, "ActiveState") == "active" && e.prop(tap, "ActiveState") == "active" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("side and tap not in web's new netns 30 s after a %s: %s\n%s", how, state,
					e.sh("journalctl --no-pager -n 40 -u "+web+" -u "+side+" -u "+tap+" || true"))
			}
			time.Sleep(200 * time.Millisecond)
		}
		e.netpodMustHTTP(tap, "127.0.0.1", 80, "web-ok")
	}
	follow("restart")
	follow("crash")
}
