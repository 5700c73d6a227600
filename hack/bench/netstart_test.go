package bench

import (
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/network"
	"github.com/berth-dev/berth/runtime/paths"
	"github.com/berth-dev/berth/units"
)

// netUnit writes a persistent berth unit for one service on a fresh
// network with a port published on 127.0.0.1:port, prepared as apply
// would (network record, reservation, addresses in the frozen spec). The
// service is SIGKILLed at stop (sleep as PID 1 ignores SIGTERM), so a stop
// costs the container's end and the CNI DEL, not a grace period.
func (e *benchEnv) netUnit(ref, project string, port uint16) *units.Unit {
	e.b.Helper()
	state := filepath.Join(e.wd, "state")
	svc := model.Service{Project: project, Name: "web", Image: ref, Command: []string{"sleep", "600"}, StopSignal: "SIGKILL",
		Networks: map[string]model.NetworkAttachment{"default": {}},
		Ports:    []model.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 80, Protocol: "tcp"}}}
	entries := []model.Entry{{Name: project, Path: project, Project: &model.Project{Name: project,
		Networks: map[string]model.Network{"default": {}}, Services: []model.Service{svc}}}}
	if err := network.Prepare(e.ctx, network.Paths{StateDir: state}, entries, nil, true); err != nil || entries[0].Err != nil {
		e.b.Fatalf("preparing the network: %v %v", err, entries[0].Err)
	}
	prepared := &entries[0].Project.Services[0]
	spec, err := paths.New("", state, "").SpecStore().Save(e.ctx, prepared)
	if err != nil {
		e.b.Fatal(err)
	}
	u := units.Service(units.Config{Binary: e.bin, Launcher: filepath.Join(e.wd, "berth-launcher"), StateDir: state}, prepared, spec)
	run := e.run
	run("sh", "-c", fmt.Sprintf("cat > /run/systemd/system/%s <<'EOF'\n%sEOF\nsystemctl daemon-reload", u.Name, u.Text()))
	return u
}

// stopUnit stops u and clears its failure count (many starts in a row
// would hit systemd's start limit).
func (e *benchEnv) stopUnit(u *units.Unit) {
	run := e.run
	run("systemctl", "stop", u.Name)
	run("systemctl", "reset-failed", u.Name)
}

// BenchmarkStartNetworked interleaves, per iteration, one start of each:
//   - berth-net: `systemctl start` of a berth unit whose container is on a
//     network with a published port, until it is active (netns, CNI ADD,
//     container started);
//   - exec-net: the same on a network of its own, with the bridge plugin
//     exec'd as before the in-process attach (BERTH_CNI_EXEC_BRIDGE=1);
//   - oneshot: `systemctl start` of a Type=oneshot unit running true, the
//     cost of a systemd job itself;
//   - runc: `runc run --detach` of a busybox bundle (no network).
//
// The target (issue 15) is berth-net <= oneshot + 1.2 x runc + 20 ms; the
// reported "berth-net/target" is below 1 when it is met.
func BenchmarkStartNetworked(b *testing.B) {
	e := newBenchEnv(b, true)
	run := e.run
	ref := e.pushBusybox("busybox:latest")
	u := e.netUnit(ref, "benchnet", 19300)
	// The same unit on a network of its own, with the bridge plugin
	// exec'd as before the in-process attach: the "before" of this run.
	ux := e.netUnit(ref, "benchnetx", 19301)
	run("sh", "-c", fmt.Sprintf("mkdir -p /run/systemd/system/%[1]s.d && printf '[Service]\\nEnvironment=%[2]s=1\\n' > /run/systemd/system/%[1]s.d/exec.conf && systemctl daemon-reload",
		ux.Name, network.ExecBridgeEnv))
	run("sh", "-c", "cat > /run/systemd/system/bench-oneshot.service <<'EOF'\n[Service]\nType=oneshot\nExecStart=/bin/true\nEOF\nsystemctl daemon-reload")
	bundle := filepath.Join(e.wd, "bundle")
	makeBundle(b, bundle)

	// Warm up: the first start pulls the image and makes the bridge.
	run("systemctl", "start", u.Name)
	e.stopUnit(u)
	run("systemctl", "start", ux.Name)
	e.stopUnit(ux)

	starts := map[string][]time.Duration{}
	timeIt := func(name string, start, stop func()) {
		t0 := time.Now()
		start()
		starts[name] = append(starts[name], time.Since(t0))
		stop()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timeIt("berth-net", func() { run("systemctl", "start", u.Name) }, func() { e.stopUnit(u) })
		timeIt("exec-net", func() { run("systemctl", "start", ux.Name) }, func() { e.stopUnit(ux) })
		timeIt("oneshot", func() { run("systemctl", "start", "bench-oneshot.service") }, func() {})
		id := fmt.Sprintf("benchnet%d", i)
		timeIt("runc", func() { run("runc", "run", "--detach", "--bundle", bundle, id) },
			func() { run("runc", "delete", "--force", id) })
	}
	b.StopTimer()

	med := map[string]time.Duration{}
	for _, name := range []string{"berth-net", "exec-net", "oneshot", "runc"} {
		m, lo, hi := stats(starts[name])
		med[name] = m
		b.ReportMetric(float64(m.Microseconds())/1000, name+"-median-ms")
		b.Logf("%-9s median %v  p10 %v  p90 %v  (n=%d)", name, m, lo, hi, len(starts[name]))
	}
	target := med["oneshot"] + time.Duration(1.2*float64(med["runc"])) + 20*time.Millisecond
	b.ReportMetric(float64(target.Microseconds())/1000, "target-ms")
	b.ReportMetric(float64(med["berth-net"])/float64(target), "berth-net/target")
	b.ReportMetric(float64(med["exec-net"])/float64(target), "exec-net/target")
	b.Logf("networked start %v vs target (oneshot + 1.2 x runc + 20 ms) %v: %.2fx; with the bridge plugin exec'd %v: %.2fx",
		med["berth-net"], target, float64(med["berth-net"])/float64(target), med["exec-net"], float64(med["exec-net"])/float64(target))
	for _, x := range []*units.Unit{u, ux} {
		b.Logf("launcher phases of %s (last starts):\n%s", x.Name, e.sh("journalctl --no-pager -o cat -u "+x.Name+" | grep -o 'took=.*' | tail -3 || true"))
	}
}

// BenchmarkNetworkCycles restarts a networked unit with a published port
// 100 times (per benchmark iteration: stop = container end + CNI DEL,
// start = CNI ADD + container) and reports the time per cycle. It fails
// if any namespace pin, veth, rule, reservation or cache entry piled up,
// counted as TestNetworkLeaks counts them.
func BenchmarkNetworkCycles(b *testing.B) {
	const cycles = 100
	e := newBenchEnv(b, true)
	run := e.run
	ref := e.pushBusybox("busybox:latest")
	u := e.netUnit(ref, "benchcyc", 19301)
	run("systemctl", "start", u.Name)
	before := e.netCounts()
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N*cycles; i++ {
		e.stopUnit(u)
		run("systemctl", "start", u.Name)
	}
	took := time.Since(t0)
	b.StopTimer()
	if after := e.netCounts(); !maps.Equal(after, before) {
		b.Errorf("after %d cycles: %v, want the same as before: %v\n%s", b.N*cycles, after, before, e.sh("iptables-save; nft list ruleset"))
	}
	per := took / time.Duration(b.N*cycles)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/cycle")
	b.Logf("%d stop+start cycles of a networked unit with a published port: %v per cycle; counts %v", b.N*cycles, per, before)
	e.stopUnit(u)
}

// netCounts counts, in the sandbox, what attachments and networks make.
func (e *benchEnv) netCounts() map[string]int {
	e.b.Helper()
	cmds := map[string]string{
		"netns pins":        "find /run/berth/netns -mindepth 1",
		"veths":             "ip -o link show type veth",
		"iptables rules":    "iptables-save | grep '^-A'",
		"nftables rules":    `nft list ruleset | grep -vE '^\s*(#|table |chain |type |policy |}|$)'`,
		"IPAM reservations": "find /run/berth/cni/ipam -type f ! -name lock ! -name 'last_reserved_ip*'",
		"CNI cache entries": "find /run/berth/cni/cache -type f",
	}
	out := map[string]int{}
	for what, cmd := range cmds {
		n, err := strconv.Atoi(e.sh("(" + cmd + ") 2>/dev/null | wc -l"))
		if err != nil {
			e.b.Fatalf("counting %s: %v", what, err)
		}
		out[what] = n
	}
	return out
}
