package network

import (
	"context"

	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// innerEnv marks the re-executed test process that runs inside its own
// network and mount namespaces (unshare), so bridges and iptables rules
// the test makes never touch the host's.
const innerEnv = "BERTH_NETWORK_TEST_INNER"

// inPrivateNetns re-runs the calling test in fresh network and mount
// namespaces and reports its result; it returns true in the inner process.
func inPrivateNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(innerEnv) == "1" {
		return true
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (network namespaces, iptables)")
	}
	for _, bin := range []string{"unshare", "iptables-save", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("this test needs %s: %v", bin, err)
		}
	}
	plugins := buildPlugins(t)
	cmd := exec.Command("unshare", "--net", "--mount", "--propagation", "private", "--",
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), innerEnv+"=1", "BERTH_TEST_CNI="+plugins)
	out, err := cmd.CombinedOutput()
	t.Logf("inner run:\n%s", out)
	if err != nil {
		t.Fatalf("inner run failed: %v", err)
	}
	return false
}

// buildPlugins builds the CNI plugins from the go.mod tool directives.
func buildPlugins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var pkgs []string
	for _, p := range []string{"main/bridge", "ipam/host-local", "meta/portmap", "meta/firewall", "main/loopback", "meta/tuning"} {
		pkgs = append(pkgs, "github.com/containernetworking/plugins/plugins/"+p)
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building CNI plugins: %v\n%s", err, out)
	}
	return dir
}

func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

// rules lists iptables rules and nftables rules, without counters.
func rules(t *testing.T) []string {
	var out []string
	for _, l := range strings.Split(sh(t, "iptables-save; nft list ruleset | grep -v '^table ip filter\\|^table ip nat' | sed 's/^/nft: /'"), "\n") {
		if strings.HasPrefix(l, "nft: ") {
			out = append(out, l)
			continue
		}
		if strings.HasPrefix(l, "-A ") || strings.HasPrefix(l, ":") {
			if i := strings.Index(l, " ["); strings.HasPrefix(l, ":") && i > 0 {
				l = l[:i]
			}
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// TestAttachDetachNoLeaks drives the network API directly through 100
// attach/detach cycles of a service with a published port, then removes
// the network by GC, and finds no namespace, veth, rule, reservation or
// bridge left. It also reports CNI ADD and DEL latency.
func TestAttachDetachNoLeaks(t *testing.T) {
	if !inPrivateNetns(t) {
		return
	}
	ctx := context.Background()
	p := Paths{StateDir: t.TempDir(), RunDir: t.TempDir()}
	sh(t, "ip link set lo up")
	base := rules(t)
	svc := model.Service{Name: "web", Networks: att(""), Ports: []model.Port{
		{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80, Protocol: "tcp"},
		{HostPort: 18053, ContainerPort: 53, Protocol: "udp"},
	}}
	entries := []model.Entry{testProject("leak", map[string]model.Network{"default": {}}, svc)}
	if err := Prepare(ctx, p, entries, nil, true); err != nil || entries[0].Err != nil {
		t.Fatal(err, entries[0].Err)
	}
	s := &entries[0].Project.Services[0]
	l := &Launcher{Paths: p, PluginDir: os.Getenv("BERTH_TEST_CNI")}
	var adds, dels []time.Duration
	var during []string
	for i := 0; i < leakCycles; i++ {
		dir := filepath.Join(p.RunDir, "containers", s.ID())
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		c, err := l.Setup(ctx, dir, s)
		if err != nil {
			t.Fatalf("cycle %d: setup: %v", i, err)
		}
		adds = append(adds, time.Since(t0))
		if i == 0 {
			addr := sh(t, "ip netns exec "+c.NetnsPath+" ip -4 -o addr show eth0 2>/dev/null || nsenter --net="+c.NetnsPath+" ip -4 -o addr show eth0")
			if !strings.Contains(addr, s.Networks["leak_default"].IPv4+"/24") {
				t.Fatalf("eth0 does not have the reserved address %s: %s", s.Networks["leak_default"].IPv4, addr)
			}
			if route := sh(t, "nsenter --net="+c.NetnsPath+" ip route"); !strings.Contains(route, "default via") {
				t.Errorf("no default route on a non-internal network: %s", route)
			}
			during = rules(t)
			if !strings.Contains(strings.Join(during, "\n"), "tcp . 18080") {
				t.Errorf("no DNAT rule for the published port:\n%s", strings.Join(during, "\n"))
			}
		}
		t1 := time.Now()
		if err := l.Teardown(ctx, s.ID()); err != nil {
			t.Fatalf("cycle %d: teardown: %v", i, err)
		}
		dels = append(dels, time.Since(t1))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("CNI ADD (netns + bridge/host-local, published ports): median %v, p90 %v", median(adds), pct(adds, 90))
	t.Logf("CNI DEL: median %v, p90 %v", median(dels), pct(dels, 90))

	if v := sh(t, "ip -o link show type veth"); v != "" {
		t.Errorf("veths left:\n%s", v)
	}
	if f := sh(t, "find "+p.NetnsDir()+" -mindepth 1 2>/dev/null || true"); f != "" {
		t.Errorf("netns pins left:\n%s", f)
	}
	if f := sh(t, "find "+p.ipamDir()+" -type f ! -name lock ! -name 'last_reserved_ip*' 2>/dev/null || true"); f != "" {
		t.Errorf("IPAM reservations left:\n%s", f)
	}
	if f := sh(t, "find "+filepath.Join(p.cacheDir(), "results")+" -type f 2>/dev/null || true"); f != "" {
		t.Errorf("CNI cache entries left:\n%s", f)
	}
	if strings.Contains(strings.Join(rules(t), "\n"), "18080") {
		t.Errorf("DNAT rule of the published port leaked")
	}

	// The project drops the service and the network: GC removes both.
	entries = []model.Entry{testProject("leak", map[string]model.Network{})}
	if err := GC(ctx, p, l.PluginDir, entries, nil, nil); err != nil {
		t.Fatal(err)
	}
	r := Record{Name: "leak_default", Bridge: bridgeName("leak_default")}
	if out, _ := exec.Command("ip", "link", "show", r.Bridge).CombinedOutput(); !strings.Contains(string(out), "does not exist") {
		t.Errorf("bridge %s of the removed network is left: %s", r.Bridge, out)
	}
	if _, err := os.Stat(p.networkDir(r.Name)); !os.IsNotExist(err) {
		t.Errorf("record of the removed network is left: %v", err)
	}
	left := strings.Join(diffRules(base, rules(t)), "\n")
	for _, w := range []string{r.Bridge, "10.89."} {
		if strings.Contains(left, w) {
			t.Errorf("rules naming %s left:\n%s", w, left)
		}
	}
	t.Logf("rules added and never removed (shared CNI chains only):\n%s", left)
}

func diffRules(base, now []string) []string {
	in := map[string]bool{}
	for _, r := range base {
		in[r] = true
	}
	var out []string
	for _, r := range now {
		if !in[r] {
			out = append(out, r)
		}
	}
	return out
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}

// leakCycles is how many attach/detach cycles the leak test runs.
const leakCycles = 100
