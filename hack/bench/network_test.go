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
// time ("network=" phase: netns + bridge, host-local, portmap, firewall).
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
	var ups, downs, pups, pdowns []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		up, down := pc.cycle(b)
		pups, pdowns = append(pups, up), append(pdowns, down)

		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose.String()), 0o644); err != nil {
			b.Fatal(err)
		}
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
		ups = append(ups, time.Since(t0))
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		berth("apply")
		downs = append(downs, time.Since(t1))
	}
	b.StopTimer()
	journal, _ := sb.Command(ctx, "journalctl", "--no-pager", "-o", "cat").Output()
	var adds []time.Duration
	for _, m := range regexp.MustCompile(`network=([0-9.]+[mµn]?s)`).FindAllStringSubmatch(string(journal), -1) {
		if d, err := time.ParseDuration(m[1]); err == nil {
			adds = append(adds, d)
		}
	}
	b.ReportMetric(float64(med(ups).Milliseconds()), "ms/apply-20-active")
	b.ReportMetric(float64(med(downs).Milliseconds()), "ms/apply-remove-20")
	b.ReportMetric(float64(med(pups).Milliseconds()), "ms/podman-compose-up-20")
	b.ReportMetric(float64(med(pdowns).Milliseconds()), "ms/podman-compose-down-20")
	b.ReportMetric(float64(med(pups))/float64(med(ups)), "podman-up/berth-up")
	b.ReportMetric(float64(med(pdowns))/float64(med(downs)), "podman-down/berth-down")
	b.Logf("apply -> 20 networked units active: median %v over %d runs; removing them: median %v", med(ups), len(ups), med(downs))
	b.Logf("podman-compose up -d -> 20 containers running: median %v; down -t 0: median %v", med(pups), med(pdowns))
	b.Logf("podman-compose/berth: up %.2fx, down %.2fx", float64(med(pups))/float64(med(ups)), float64(med(pdowns))/float64(med(downs)))
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
