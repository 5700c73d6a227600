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
