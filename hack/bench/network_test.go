package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hack/e2e"
	"github.com/berth-dev/berth/runtime/network"
)

// BenchmarkNetworkApply measures, per iteration and interleaved, the time
// from starting the tool to 20 networked containers running (one bridge, a
// port published on 127.0.0.1 each):
//   - berth: `berth apply` of a project with 20 services until every unit
//     is active, then the apply that removes them all;
//   - podman-compose: `podman-compose up -d` of the same services (Debian's
//     podman-compose and podman with netavark, runc, its own storage, network
//     config and registries files under the work dir), then `down -t 0`.
//
// The sandbox has its own network namespace, so bridges and rules of both
// stay off the host. The launchers' journal lines give berth's CNI ADD
// time ("network=" phase: netns + bridge, host-local, published ports).
// Each iteration applies twice: with the bridge plugin's work in process,
// and exec'd as before (berth-exec, a drop-in setting BERTH_CNI_EXEC_BRIDGE).
func BenchmarkNetworkApply(b *testing.B) {
	wd := e2e.WorkDir(b)
	bin := buildBerth(b, wd)
	e2e.BuildCNIPlugins(b, filepath.Join(wd, "cni"))
	reg := e2e.StartRegistry(b)
	img, err := e2e.BuildBusybox()
	if err != nil {
		b.Fatal(err)
	}
	ref := reg.Addr() + "/busybox:latest"
	reg.Push(b, ref, img)
	sb := e2e.BootSystemd(b, e2e.WithNetNS(reg.Addr()))
	ctx := context.Background()
	config, state := filepath.Join(wd, "etc"), filepath.Join(wd, "state")
	berth := func(args ...string) string {
		b.Helper()
		full := append([]string{"--config-dir", config, "--state-dir", state}, args...)
		out, err := sb.Command(ctx, bin, full...).CombinedOutput()
		if err != nil {
			b.Fatalf("berth %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var compose strings.Builder
	compose.WriteString("services:\n")
	for i := 0; i < 20; i++ {
		// SIGKILL: sleep as PID 1 ignores SIGTERM; podman-compose down -t 0
		// does the same. The grace period stays 10 s: cleanup (CNI DEL)
		// runs within the unit's stop timeout.
		fmt.Fprintf(&compose, "  s%02d:\n    image: %s\n    command: [\"sleep\", \"600\"]\n    stop_signal: SIGKILL\n    ports: [\"127.0.0.1:%d:80\"]\n", i, ref, 19000+i)
	}
	dir := filepath.Join(config, "bench")
	pc := netpodPodmanCompose(b, sb, wd, reg.Addr(), ref)
	// cycle applies the 20 services until all are active, then removes
	// them; exec runs the bridge plugin as before the in-process attach (a
	// drop-in for every bench unit). It returns both times and the
	// launchers' network phases.
	sbSh := func(script string) string {
		b.Helper()
		out, err := sb.Command(ctx, "sh", "-c", script).CombinedOutput()
		if err != nil {
			b.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	dropIn := "/run/systemd/system/berth-bench-.service.d"
	cycle := func(exec bool) (up, down time.Duration, adds []time.Duration) {
		b.Helper()
		if exec {
			sbSh(fmt.Sprintf("mkdir -p %s && printf '[Service]\\nEnvironment=%s=1\\n' > %s/exec.conf && systemctl daemon-reload", dropIn, network.ExecBridgeEnv, dropIn))
			defer sbSh("rm -rf " + dropIn + " && systemctl daemon-reload")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		since := time.Now().Add(-time.Second).Unix()
		t0 := time.Now()
		berth("apply")
		for {
			out, _ := sb.Command(ctx, "systemctl", "list-units", "--plain", "--no-legend", "--state=active", "berth-bench-*").Output()
			if strings.Count(string(out), "berth-bench-") == 20 {
				break
			}
			if time.Since(t0) > 3*time.Minute {
				b.Fatalf("not all 20 units active after 3 min:\n%s", out)
			}
			time.Sleep(20 * time.Millisecond)
		}
		up = time.Since(t0)
		env := sbSh("systemctl show -p Environment berth-bench-s00.service")
		if strings.Contains(env, network.ExecBridgeEnv) != exec {
			b.Fatalf("exec %v, but the unit's environment is %q", exec, env)
		}
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		berth("apply")
		down = time.Since(t1)
		journal := sbSh(fmt.Sprintf("journalctl --no-pager -o cat --since=@%d", since))
		for _, m := range regexp.MustCompile(`network=([0-9.]+[mµn]?s)`).FindAllStringSubmatch(journal, -1) {
			if d, err := time.ParseDuration(m[1]); err == nil {
				adds = append(adds, d)
			}
		}
		return up, down, adds
	}
	var ups, downs, xups, xdowns, pups, pdowns, adds, xadds []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		up, down := pc.cycle(b)
		pups, pdowns = append(pups, up), append(pdowns, down)

		up, down, add := cycle(false)
		ups, downs, adds = append(ups, up), append(downs, down), append(adds, add...)
		up, down, add = cycle(true)
		xups, xdowns, xadds = append(xups, up), append(xdowns, down), append(xadds, add...)
	}
	b.StopTimer()
	b.ReportMetric(float64(med(ups).Milliseconds()), "ms/apply-20-active")
	b.ReportMetric(float64(med(downs).Milliseconds()), "ms/apply-remove-20")
	b.ReportMetric(float64(med(pups).Milliseconds()), "ms/podman-compose-up-20")
	b.ReportMetric(float64(med(pdowns).Milliseconds()), "ms/podman-compose-down-20")
	b.ReportMetric(float64(med(pups))/float64(med(ups)), "podman-up/berth-up")
	b.ReportMetric(float64(med(pdowns))/float64(med(downs)), "podman-down/berth-down")
	b.Logf("apply -> 20 networked units active: median %v over %d runs; removing them: median %v", med(ups), len(ups), med(downs))
	b.Logf("podman-compose up -d -> 20 containers running: median %v; down -t 0: median %v", med(pups), med(pdowns))
	b.Logf("podman-compose/berth: up %.2fx, down %.2fx", float64(med(pups))/float64(med(ups)), float64(med(pdowns))/float64(med(downs)))
	b.ReportMetric(float64(med(xups).Milliseconds()), "ms/apply-20-active-exec")
	b.Logf("with the bridge plugin exec'd: apply -> 20 active median %v, removing %v; podman-compose/berth up %.2fx, down %.2fx; network phase median %v (n=%d)",
		med(xups), med(xdowns), float64(med(pups))/float64(med(xups)), float64(med(pdowns))/float64(med(xdowns)), med(xadds), len(xadds))
	if len(adds) > 0 {
		b.ReportMetric(float64(med(adds).Microseconds())/1000, "ms/cni-add")
		b.Logf("CNI ADD per container (launcher's network phase): median %v, max %v, n=%d", med(adds), adds[len(adds)-1], len(adds))
	}
}

// med sorts d and returns its median.
func med(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}
