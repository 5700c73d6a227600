package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// netleakCycles is how many create/remove cycles TestNetworkLeaks drives
// through units in all: netleakWebs services restarting side by side, each
// netleakCycles/netleakWebs times (concurrent ADDs and DELs on one bridge,
// as when many services restart at once).
const (
	netleakCycles = 100
	netleakWebs   = 2
)

// netleakProject: web1 and web2 each publish a tcp port (1809N) and web1 a udp
// port too, on the default network, which db shares; db also sits on
// "back" (and sleeps a day: it must outlive the cycles on a loaded
// machine). The webs exit on SIGTERM at once, so a cycle costs the detach and
// attach, not a grace period. web2 has a 1 s stop_grace_period: its cleanup
// must not be bounded by it.
func netleakProject(reg string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 1; i <= netleakWebs; i++ {
		fmt.Fprintf(&b, `  web%[2]d:
    image: %[1]s/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /www && echo leak-ok-%[2]d > /www/index.html && httpd -f -p 80 -h /www & wait"]
    ports: ["127.0.0.1:1809%[2]d:80"%[3]s]
%[4]s`, reg, i, map[bool]string{true: `, "18099:53/udp"`}[i == 1], map[bool]string{true: "    stop_grace_period: 1s\n"}[i == 2])
	}
	fmt.Fprintf(&b, `  db:
    image: %s/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]
    networks: [default, back]
networks:
  back: {}
`, reg)
	return b.String()
}

func netleakUnit(i int) string { return fmt.Sprintf("berth-leak-web%d.service", i) }

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

// netleakFetch fetches web i's page through its published port from the
// sandbox's host side.
func netleakFetch(e *berthEnv, i int) string {
	out, _ := e.sb.Command(e.t.Context(), "sh", "-c", fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 127.0.0.1 1809%d | tail -n 1`, i)).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// netleakServing waits until every web answers on its published port.
func netleakServing(e *berthEnv, when string) {
	e.t.Helper()
	for i := 1; i <= netleakWebs; i++ {
		e.eventually(15*time.Second, fmt.Sprintf("web%d's published port to answer %s", i, when), func() bool {
			return netleakFetch(e, i) == fmt.Sprintf("leak-ok-%d", i)
		})
	}
}

// TestNetworkLeaks is issue 5's leak test through berth: 100 create/remove
// cycles of networked services with published ports, each a restart of a
// unit (systemd runs the real berth cleanup, which detaches, and berth run,
// which attaches again), then full apply / remove-file / apply cycles.
// Nothing may pile up while the project runs, and once it is gone nothing
// of it may remain: netns pins, veths, bridges, iptables/nftables rules
// naming its bridges, subnets or ports, IPAM reservations, CNI cache
// entries, network records.
func TestNetworkLeaks(t *testing.T) {
	e := newBerthEnv(t)
	all := []string{"berth-leak-db.service"}
	for i := 1; i <= netleakWebs; i++ {
		all = append(all, netleakUnit(i))
	}
	up := func() {
		t.Helper()
		e.writeProject("leak", netleakProject(e.registry))
		out := e.mustBerth("apply")
		for _, u := range all {
			e.eventually(60*time.Second, u+" active after:\n"+out, func() bool { return e.prop(u, "ActiveState") == "active" })
		}
		netleakServing(e, "after apply")
	}
	// down removes the project's file and lets apply, or the agent (one
	// reconcile, as berth.service runs it), remove it.
	down := func(by ...string) {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(e.config, "leak")); err != nil {
			t.Fatal(err)
		}
		if len(by) == 0 {
			by = []string{"apply"}
		}
		out := e.mustBerth(by...)
		e.eventually(20*time.Second, "units gone after:\n"+out, func() bool {
			return e.sh("systemctl list-units --all --plain --no-legend 'berth-leak-*'") == ""
		})
	}

	up()
	running := netleakCounts(e)
	t.Logf("while running: %v", running)
	n := netleakWebs + 1
	for what, want := range map[string]int{"netns pins": n, "veths": n + 1, "bridges": 2, "IPAM reservations": n + 1, "CNI cache entries": n + 1, "network records": 2} {
		if running[what] != want {
			t.Errorf("while running: %d %s, want %d", running[what], what, want)
		}
	}

	// Cycles through the units, side by side.
	t0 := time.Now()
	errc := make(chan error, netleakWebs)
	for i := 1; i <= netleakWebs; i++ {
		go func() {
			for c := range netleakCycles / netleakWebs {
				// reset-failed clears systemd's start rate limit, which
				// fast cycles on an idle machine would otherwise hit.
				u := netleakUnit(i)
				if out, err := e.sb.Command(t.Context(), "sh", "-c", "systemctl reset-failed "+u+" && systemctl restart "+u).CombinedOutput(); err != nil {
					errc <- fmt.Errorf("cycle %d of web%d: systemctl restart: %v\n%s", c+1, i, err, out)
					return
				}
				if i == 1 && (c+1)%10 == 0 {
					t.Logf("web1: %d cycles after %v", c+1, time.Since(t0).Round(time.Second))
				}
			}
			errc <- nil
		}()
	}
	for range netleakWebs {
		if err := <-errc; err != nil {
			t.Errorf("%v", err)
		}
	}
	took := time.Since(t0)
	t.Logf("%d unit restarts (%d services side by side; detach + attach with published ports) took %v: %v per cycle", netleakCycles, netleakWebs, took.Round(time.Millisecond), (took / netleakCycles).Round(time.Millisecond))
	if t.Failed() {
		t.Fatalf("journal:\n%s", e.sh("journalctl --no-pager -n 80 -u 'berth-leak-web*'"))
	}
	netleakServing(e, "after the cycles")
	if after := netleakCounts(e); !maps.Equal(after, running) {
		t.Errorf("after %d cycles: %v, want the same as before: %v\n%s", netleakCycles, after, running, e.sh("iptables-save; nft list ruleset"))
	}

	// Full cycles: the project's file goes away and comes back.
	var firstGone map[string]int
	for i := range 2 {
		down()
		netAssertNoLeftovers(e)
		gone := netleakCounts(e)
		if i == 0 {
			firstGone = gone
			t.Logf("after removal (shared CNI chains only): %v\n%s", gone, e.sh("iptables-save | grep '^-A' || true"))
		} else if !maps.Equal(gone, firstGone) {
			t.Errorf("removal %d left %v, the first left %v", i+1, gone, firstGone)
		}
		up()
		if now := netleakCounts(e); !maps.Equal(now, running) {
			t.Errorf("re-created %d: %v, want %v", i+1, now, running)
		}
	}
	down("agent", "--once")
	netAssertNoLeftovers(e)
	t.Logf("total %v", time.Since(t0).Round(time.Millisecond))
}
