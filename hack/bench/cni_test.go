package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/hack/e2e"
	"github.com/berth-dev/berth/runtime/network"
)

// cniInnerEnv marks the re-executed benchmark process that runs in its own
// network and mount namespaces, so its bridge and rules never touch the
// host's.
const cniInnerEnv = "BERTH_BENCH_CNI_INNER"

// BenchmarkCNIAddDel measures berth's attach and detach of one container
// namespace (what `berth run` and `berth cleanup` do): ADD = pin a new
// netns + CNI ADD through libcni (bridge, host-local) + a published port
// as berth's nft map elements; DEL = CNI DEL with the cached arguments +
// unpin. The bridge plugin's part runs in process; the same ADD and DEL
// with the plugin exec'd (as before) are timed in the same run. Baseline: the same namespace and veth on the same
// bridge made by hand with iproute2 (`ip netns add`, veth pair, address,
// route; `ip netns del`), which has no IPAM, port mapping or firewall.
func BenchmarkCNIAddDel(b *testing.B) {
	if os.Getenv(cniInnerEnv) != "1" {
		if os.Geteuid() != 0 {
			b.Fatal("this benchmark needs root (network namespaces, iptables)")
		}
		plugins := filepath.Join(e2e.WorkDir(b), "cni")
		e2e.BuildCNIPlugins(b, plugins)
		cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "private", "--",
			os.Args[0], "-test.run", "^$", "-test.bench", "^BenchmarkCNIAddDel$", fmt.Sprintf("-test.benchtime=%dx", b.N), "-test.v")
		cmd.Env = append(os.Environ(), cniInnerEnv+"=1", "BERTH_BENCH_CNI_PLUGINS="+plugins)
		out, err := cmd.CombinedOutput()
		b.Logf("inner run (own netns):\n%s", out)
		if err != nil {
			b.Fatalf("inner run: %v", err)
		}
		return
	}

	ctx := context.Background()
	tmp := b.TempDir()
	paths := network.Paths{StateDir: filepath.Join(tmp, "state"), RunDir: filepath.Join(tmp, "run")}
	svc := model.Service{Project: "cni", Name: "s", Networks: map[string]model.NetworkAttachment{"default": {}},
		Ports: []model.Port{{HostIP: "127.0.0.1", HostPort: 19500, ContainerPort: 80, Protocol: "tcp"}}}
	entries := []model.Entry{{Name: "cni", Path: "cni", Project: &model.Project{Name: "cni",
		Networks: map[string]model.Network{"default": {}}, Services: []model.Service{svc}}}}
	if err := network.Prepare(ctx, paths, entries, nil, true); err != nil || entries[0].Err != nil {
		b.Fatalf("preparing the network: %v %v", err, entries[0].Err)
	}
	prepared := entries[0].Project.Services[0]
	rec, err := paths.ReadRecord("cni_default")
	if err != nil {
		b.Fatal(err)
	}
	n := network.New(paths, os.Getenv("BERTH_BENCH_CNI_PLUGINS"), nil)
	atts := []network.Attachment{{Network: "cni_default", IP: prepared.Networks["cni_default"].IPv4, Ports: prepared.Ports}}
	id, pin := prepared.ID(), paths.NetnsPath(prepared.ID())
	add := func() {
		if err := network.CreateNetns(pin); err != nil {
			b.Fatal(err)
		}
		if err := n.AttachNetns(ctx, id, pin, atts); err != nil {
			b.Fatal(err)
		}
	}
	del := func() {
		if err := n.DetachNetns(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := network.RemoveNetns(pin); err != nil {
			b.Fatal(err)
		}
	}
	sh := func(script string) {
		if out, err := exec.Command("sh", "-ec", script).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", script, err, out)
		}
	}
	// A free address of the subnet for the hand-made namespace.
	handIP := strings.TrimSuffix(rec.Subnet, ".0/24") + ".250"
	handAdd := fmt.Sprintf(`ip netns add hand
ip link add vhand type veth peer name eth0 netns hand
ip link set vhand master %s up
ip -n hand link set lo up
ip -n hand addr add %s/24 dev eth0
ip -n hand link set eth0 up
ip -n hand route add default via %s`, rec.Bridge, handIP, rec.Gateway)
	handDel := "ip netns del hand"

	// The next run of this process (go test runs b.N=1 first) prepares
	// the network anew, maybe on another subnet: its bridge must go.
	b.Cleanup(func() { _ = exec.Command("ip", "link", "del", rec.Bridge).Run() })

	add() // warm up: the first ADD makes the bridge and the firewall chains
	del()
	n.TakePluginTimes()
	// Each iteration attaches and detaches with the bridge plugin exec'd
	// (as berth did before) and in process, then by hand.
	var adds, dels, xadds, xdels, hadds, hdels []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n.ExecBridgePlugin(true)
		t0 := time.Now()
		add()
		t1 := time.Now()
		del()
		t2 := time.Now()
		n.ExecBridgePlugin(false)
		add()
		t3 := time.Now()
		del()
		t4 := time.Now()
		sh(handAdd)
		t5 := time.Now()
		sh(handDel)
		t6 := time.Now()
		xadds, xdels = append(xadds, t1.Sub(t0)), append(xdels, t2.Sub(t1))
		adds, dels = append(adds, t3.Sub(t2)), append(dels, t4.Sub(t3))
		hadds, hdels = append(hadds, t5.Sub(t4)), append(hdels, t6.Sub(t5))
	}
	b.StopTimer()
	ma, md, mxa, mxd, mha, mhd := med(adds), med(dels), med(xadds), med(xdels), med(hadds), med(hdels)
	b.ReportMetric(float64(ma.Microseconds())/1000, "ms/cni-add")
	b.ReportMetric(float64(md.Microseconds())/1000, "ms/cni-del")
	b.ReportMetric(float64(mxa.Microseconds())/1000, "ms/cni-add-exec")
	b.ReportMetric(float64(mxd.Microseconds())/1000, "ms/cni-del-exec")
	b.ReportMetric(float64(mha.Microseconds())/1000, "ms/by-hand-add")
	b.ReportMetric(float64(mhd.Microseconds())/1000, "ms/by-hand-del")
	// The profile: where an attach and a detach spend their time.
	var per []string
	for k, d := range n.TakePluginTimes() {
		per = append(per, fmt.Sprintf("%s %v", k, (d/time.Duration(b.N)).Round(100*time.Microsecond)))
	}
	sort.Strings(per)
	b.Logf("mean time per container by plugin (bridge includes host-local): %s", strings.Join(per, ", "))
	b.Logf("CNI ADD median %v (bridge exec'd: %v, %.1fx), DEL median %v (exec'd: %v, %.1fx); by hand (ip netns + veth) add %v, del %v; ADD/by-hand %.1fx, DEL/by-hand %.1fx (n=%d)",
		ma, mxa, float64(mxa)/float64(ma), md, mxd, float64(mxd)/float64(md), mha, mhd,
		float64(ma)/float64(mha), float64(md)/float64(mhd), len(adds))
}
