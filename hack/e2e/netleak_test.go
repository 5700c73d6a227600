package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// netleakCycles is how many create/remove cycles of the networked service
// TestNetworkLeaks drives through its unit.
const netleakCycles = 2

// netleakProject: web publishes tcp and udp ports on the default network and
// also sits on "back" with db, so every cycle attaches two networks (two
// veths, two reservations, portmap, masquerade and firewall rules).
func netleakProject(reg string) string {
	return fmt.Sprintf(`services:
  web:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command: %[2]s
    ports: ["127.0.0.1:18090:80", "18091:53/udp"]
    networks: [default, back]
  db:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command: ["sleep", "600"]
    networks: [back]
networks:
  back: {}
`, reg, fmt.Sprintf(netHTTPD, "leak-ok"))
}

// netleakCounts counts, inside the sandbox, everything an attachment or a
// network makes. Shared CNI chains count as rules too, so a count that
// stays equal across cycles means nothing piled up.
func netleakCounts(e *berthEnv) map[string]int {
	e.t.Helper()
	cmds := map[string]string{
		"netns pins":        "find /run/berth/netns -mindepth 1",
		"veths":             "ip -o link show type veth",
		"bridges":           "ip -o link show type bridge",
		"iptables rules":    "iptables-save | grep '^-A'",
		"nftables rules":    `nft list ruleset | grep -vE '^\s*(#|table |chain |type |policy |}|$)'`,
		"IPAM reservations": "find /run/berth/cni/ipam -type f ! -name lock ! -name 'last_reserved_ip*'",
		"CNI cache entries": "find /run/berth/cni/cache -type f",
		"network records":   "find " + e.state + "/networks -mindepth 1 -maxdepth 1 -type d",
	}
	out := map[string]int{}
	for what, cmd := range cmds {
		n, err := strconv.Atoi(e.sh("(" + cmd + ") 2>/dev/null | wc -l"))
		if err != nil {
			e.t.Fatalf("counting %s: %v", what, err)
		}
		out[what] = n
	}
	return out
}

// netleakFetch fetches web's page through the published port from the
// sandbox's host side.
func netleakFetch(e *berthEnv) string {
	out, _ := e.sb.Command(e.t.Context(), "sh", "-c", `printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 127.0.0.1 18090 | tail -n 1`).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// TestNetworkLeaks is issue 5's leak test through berth: 100 create/remove
// cycles of a networked service with published ports, each a restart of
// its unit (berth cleanup detaches, berth run attaches again), then full
// apply / remove-file / apply cycles. Nothing may pile up while the project
// runs, and once it is gone nothing of it may remain: netns pins, veths,
// bridges, iptables/nftables rules naming its bridges, subnets or ports,
// IPAM reservations, CNI cache entries, network records.
func TestNetworkLeaks(t *testing.T) {
	e := newBerthEnv(t)
	web, db := "berth-leak-web.service", "berth-leak-db.service"
	up := func() {
		t.Helper()
		e.writeProject("leak", netleakProject(e.registry))
		out := e.mustBerth("apply")
		for _, u := range []string{web, db} {
			e.eventually(30*time.Second, u+" active after:\n"+out, func() bool { return e.prop(u, "ActiveState") == "active" })
		}
		e.eventually(10*time.Second, "the published port to answer", func() bool { return netleakFetch(e) == "leak-ok" })
	}
	down := func() {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(e.config, "leak")); err != nil {
			t.Fatal(err)
		}
		out := e.mustBerth("apply")
		e.eventually(20*time.Second, "units gone after:\n"+out, func() bool {
			return e.sh("systemctl list-units --all --plain --no-legend 'berth-leak-*'") == ""
		})
	}

	up()
	running := netleakCounts(e)
	t.Logf("while running: %v", running)
	for what, want := range map[string]int{"netns pins": 2, "veths": 3, "bridges": 2, "IPAM reservations": 3, "network records": 2} {
		if running[what] != want {
			t.Errorf("while running: %d %s, want %d", running[what], what, want)
		}
	}

	// Cycles through the unit: systemd runs the real berth cleanup
	// (ExecStopPost) and berth run (ExecStart) each time.
	t0 := time.Now()
	var slowest time.Duration
	for i := range netleakCycles {
		c0 := time.Now()
		if out, err := e.sb.Command(t.Context(), "systemctl", "restart", web).CombinedOutput(); err != nil {
			t.Fatalf("cycle %d: systemctl restart %s: %v\n%s\n%s", i+1, web, err, out, e.sh("journalctl --no-pager -n 60 -u "+web))
		}
		if d := time.Since(c0); d > slowest {
			slowest = d
		}
		if i < 3 || i%10 == 9 {
			t.Logf("cycle %d: %v (%v so far)", i+1, time.Since(c0).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		}
	}
	t.Logf("journal:\n%s", e.sh("journalctl --no-pager -o short-precise -u "+web+" | tail -60"))
	took := time.Since(t0)
	t.Logf("%d unit restarts (detach + attach of 2 networks, 2 published ports) took %v, %v per cycle", netleakCycles, took.Round(time.Millisecond), (took / netleakCycles).Round(time.Millisecond))
	e.eventually(10*time.Second, "the published port to answer after the cycles", func() bool { return netleakFetch(e) == "leak-ok" })
	if after := netleakCounts(e); !mapsEqual(after, running) {
		t.Errorf("after %d cycles: %v, want the same as before: %v\n%s", netleakCycles, after, running, e.sh("iptables-save; nft list ruleset"))
	}

	// Full cycles: the project's file goes away and comes back.
	var firstGone map[string]int
	for i := range 3 {
		down()
		netAssertNoLeftovers(e)
		gone := netleakCounts(e)
		if i == 0 {
			firstGone = gone
			t.Logf("after removal (shared CNI chains only): %v\n%s", gone, e.sh("iptables-save | grep '^-A' || true"))
		} else if !mapsEqual(gone, firstGone) {
			t.Errorf("removal %d left %v, the first left %v", i+1, gone, firstGone)
		}
		up()
		if now := netleakCounts(e); !mapsEqual(now, running) {
			t.Errorf("re-created %d: %v, want %v", i+1, now, running)
		}
	}
	down()
	netAssertNoLeftovers(e)
	t.Logf("total %v", time.Since(t0).Round(time.Millisecond))
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
