package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netpeersProject is db serving body on port 80 and web fetching db by
// name every 200 ms. Each fetch runs in the background, so one stuck in
// a connect timeout never delays the next, and logs the uptime at which
// it started and what it got ("none" for no answer).
func netpeersProject(reg, body string) string {
	return fmt.Sprintf(`services:
  db:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command: %[2]s
  web:
    image: %[1]s/busybox:latest
    stop_grace_period: 1s
    command:
      - sh
      - -c
      - |
        fetch() {
          t=$$(cut -d' ' -f1 /proc/uptime)
          ip=$$(awk '{for(i=2;i<=NF;i++) if($$i=="db"){print $$1; exit}}' /etc/hosts)
          r=$$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 1 "$$ip" 80 2>/dev/null | tail -n 1)
          echo "fetch $$t $${r:-none}"
        }
        while :; do fetch & sleep 0.2; done
`, reg, fmt.Sprintf(netHTTPD, body))
}

// netpeersFetch is one of web's fetches: when it started (uptime,
// CLOCK_BOOTTIME) and the body it got.
type netpeersFetch struct {
	at   time.Duration
	body string
}

// netpeersFetches parses web's journal.
func (e *berthEnv) netpeersFetches(unit string) []netpeersFetch {
	var fs []netpeersFetch
	for _, l := range strings.Split(e.sh("journalctl --no-pager -o cat -u "+unit), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "fetch" {
			continue
		}
		secs, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		fs = append(fs, netpeersFetch{at: time.Duration(secs * float64(time.Second)), body: f[2]})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].at < fs[j].at })
	return fs
}

// bootOffset is CLOCK_BOOTTIME - CLOCK_MONOTONIC: systemd's monotonic
// timestamps plus it compare with /proc/uptime.
func bootOffset(t *testing.T) time.Duration {
	var mono, boot unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		t.Fatal(err)
	}
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		t.Fatal(err)
	}
	return time.Duration(boot.Nano() - mono.Nano())
}

// maxGap is the longest time, from start on, that web went without a
// fetch of want that succeeded: from start to the first, between two,
// and from the last to the last fetch web made.
func maxGap(fs []netpeersFetch, start time.Duration, want string) (gap, at time.Duration) {
	prev := start
	for _, f := range fs {
		if f.at < start || f.body != want {
			continue
		}
		if d := f.at - prev; d > gap {
			gap, at = d, prev
		}
		prev = f.at
	}
	if n := len(fs); n > 0 && fs[n-1].at-prev > gap {
		gap, at = fs[n-1].at-prev, prev
	}
	return gap, at
}

// TestNetworkRecreatePeers: a service recreated by apply (its command
// edited), and then restarted by systemctl, keeps its address, and its
// peer, fetching it by name every 200 ms, reaches the new container
// within 1 s of its start and never loses it for longer after: the new
// container has the old one's MAC and announces itself, so no stale
// neighbour entry strands the peer.
func TestNetworkRecreatePeers(t *testing.T) {
	e := newBerthEnv(t)
	const db, web = "berth-peers-db.service", "berth-peers-web.service"
	e.writeProject("peers", netpeersProject(e.registry, "db-v1"))
	e.mustBerth("apply")
	for _, u := range []string{db, web} {
		e.eventually(30*time.Second, u+" active", func() bool { return e.prop(u, "ActiveState") == "active" })
	}
	e.eventually(30*time.Second, "web to fetch db-v1", func() bool {
		fs := e.netpeersFetches(web)
		return len(fs) > 0 && fs[len(fs)-1].body == "db-v1"
	})
	// The peer's neighbour entry for db is fresh now: the case a
	// recreate must not strand.
	e.netpeersCheck(db, web, "recreated", "db-v2", func() {
		e.writeProject("peers", netpeersProject(e.registry, "db-v2"))
		if out := e.mustBerth("apply"); !strings.Contains(out, "peers/db: recreated") {
			t.Fatalf("db not recreated:\n%s", out)
		}
	})
	e.netpeersCheck(db, web, "restarted", "db-v2", func() { e.sh("systemctl restart " + db) })
}

// netpeersCheck runs replace, which starts a new db container, and fails
// the test if web then goes more than 1 s without fetching want from it,
// counted from the new container's start (its unit's ActiveEnterTimestamp),
// or if db's MAC changed or its launcher could not announce it.
func (e *berthEnv) netpeersCheck(db, web, how, want string, replace func()) {
	t := e.t
	t.Helper()
	mac := func() string {
		return e.netMustIn(db, "ip link show eth0 | awk '/ether/ {print $2}'")
	}
	oldMAC, oldPID := mac(), e.mainPID(db)
	replace()
	e.eventually(30*time.Second, "the new db active", func() bool {
		return e.prop(db, "ActiveState") == "active" && e.mainPID(db) != oldPID
	})
	mono, err := strconv.ParseInt(e.prop(db, "ActiveEnterTimestampMonotonic"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Duration(mono)*time.Microsecond + bootOffset(t)
	if newMAC := mac(); newMAC != oldMAC {
		t.Errorf("%s db's MAC changed from %s to %s with the same address", how, oldMAC, newMAC)
	}
	// The launcher announced it (gratuitous ARP) without complaint.
	if w := e.sh("journalctl --no-pager -o cat -u " + db + " | grep -E 'announcing the address|ignored the MAC' || true"); w != "" {
		t.Errorf("db's launcher could not announce its address:\n%s", w)
	}

	// Watch until web got want from the new db (for the figure even when
	// it is late, up to 90 s), then 3 s more.
	var fs []netpeersFetch
	var first time.Time
	for deadline := time.Now().Add(90 * time.Second); first.IsZero() || time.Since(first) < 3*time.Second; time.Sleep(500 * time.Millisecond) {
		fs = e.netpeersFetches(web)
		if first.IsZero() && slices.ContainsFunc(fs, func(f netpeersFetch) bool { return f.at >= start && f.body == want }) {
			first = time.Now()
		}
		if first.IsZero() && time.Now().After(deadline) {
			break
		}
	}
	gap, at := maxGap(fs, start, want)
	t.Logf("%s db started at %.2f (uptime); longest gap without %s after it: %v from %.2f", how, start.Seconds(), want, gap, at.Seconds())
	if gap > time.Second {
		var lines []string
		for _, f := range fs {
			if f.at > start-2*time.Second && f.at < at+gap+time.Second {
				lines = append(lines, fmt.Sprintf("%.2f %s", f.at.Seconds(), f.body))
			}
		}
		t.Errorf("web went %v without reaching the %s db (started at %.2f), from %.2f; web's fetches:\n%s\nweb's neighbours:\n%s",
			gap, how, start.Seconds(), at.Seconds(), strings.Join(lines, "\n"), e.netMustIn(web, "ip neigh"))
	}
}
