package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkAgent measures the agent on one sandboxed systemd:
//   - a no-op reconcile of 200 running services (the agent's re-list pass:
//     config dir unchanged, every unit observed through D-Bus), with the
//     number of D-Bus writes it made (target < 100 ms and 0 writes);
//   - `berth apply` of 50 services with cached images against
//     `podman-compose up -d` of the same 50 containers;
//   - the agent's idle RSS with 200 services (target <= 25 MB).
//
// Figures are reported as metrics and as ratios to their target/baseline.
// Setup runs once; -benchtime only repeats the cheap no-op measurement.
func BenchmarkAgent(b *testing.B) {
	e := newBenchEnv(b, true)
	wd, sh := e.wd, e.sh
	ref := e.pushBusybox("busybox:latest")
	config, state := filepath.Join(wd, "etc"), filepath.Join(wd, "state")
	berth := fmt.Sprintf("%s --config-dir %s --state-dir %s ", e.bin, config, state)
	service := func(name string) string {
		return fmt.Sprintf("  %s:\n    image: %s\n    command: [sleep, \"3600\"]\n    stop_signal: SIGKILL\n", name, ref)
	}
	writeProjects := func(projects, per int) {
		os.RemoveAll(config)
		for p := range projects {
			var s strings.Builder
			s.WriteString("services:\n")
			for i := range per {
				s.WriteString(service(fmt.Sprintf("s%d", i)))
			}
			if err := os.MkdirAll(config, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(config, fmt.Sprintf("p%02d.yaml", p)), []byte(s.String()), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	timed := func(script string) time.Duration {
		t0 := time.Now()
		sh(script)
		return time.Since(t0)
	}

	// 1. Apply of 50 services, images cached (pulled by a warm-up apply).
	writeProjects(1, 1)
	sh(berth + "apply")
	sh(berth + "down p00")
	writeProjects(5, 10)
	berthApply := timed(berth + "apply")
	if n := sh("systemctl list-units --plain --no-legend --state=active 'berth-p*' | wc -l"); n != "50" {
		b.Fatalf("%s units active after apply of 50", n)
	}
	for p := range 5 {
		sh(fmt.Sprintf("%sdown p%02d", berth, p))
	}
	// podman-compose of the same 50 containers, image pulled beforehand.
	podmanArgs := "--runtime runc --cgroup-manager cgroupfs"
	sh(fmt.Sprintf("podman %s pull --tls-verify=false -q %s", podmanArgs, ref))
	var pc strings.Builder
	pc.WriteString("services:\n")
	for i := range 50 {
		fmt.Fprintf(&pc, "  s%d:\n    image: %s\n    command: [sleep, \"3600\"]\n    ulimits:\n      nofile: {soft: 1024, hard: 1024}\n      nproc: {soft: 1000, hard: 1000}\n", i, ref)
	}
	pcDir := filepath.Join(wd, "podman-compose")
	os.MkdirAll(pcDir, 0o755)
	if err := os.WriteFile(filepath.Join(pcDir, "compose.yaml"), []byte(pc.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	pcCmd := fmt.Sprintf("cd %s && podman-compose --podman-args='%s' -p bench", pcDir, podmanArgs)
	podmanUp := timed(pcCmd + " up -d >/dev/null 2>&1")
	if n := sh(fmt.Sprintf("podman %s ps -q | wc -l", podmanArgs)); n != "50" {
		b.Errorf("podman-compose started %s containers, want 50", n)
	}
	sh(fmt.Sprintf("podman %s rm -f -t 0 -a >/dev/null 2>&1; podman %s pod rm -f -a >/dev/null 2>&1 || true", podmanArgs, podmanArgs))

	// 2. No-op reconcile of 200 running services.
	writeProjects(20, 10)
	sh(berth + "apply")
	if n := sh("systemctl list-units --plain --no-legend --state=active 'berth-p*' | wc -l"); n != "200" {
		b.Fatalf("%s units active after apply of 200", n)
	}
	line := regexp.MustCompile(`reconciled \(relist\): (\d+) services, (\d+) changes, (\d+) D-Bus writes in (\S+)`)
	noopPasses := func(berth string) (noops []time.Duration, writes int) {
		out := sh(berth + "agent --once --passes 11")
		for _, m := range line.FindAllStringSubmatch(out, -1) {
			d, _ := time.ParseDuration(m[4])
			w, _ := strconv.Atoi(m[3])
			if m[1] != "200" || m[2] != "0" {
				b.Errorf("no-op pass saw %s services and %s changes", m[1], m[2])
			}
			noops = append(noops, d)
			writes += w
		}
		return noops, writes
	}
	var noops []time.Duration
	var writes int
	b.ResetTimer()
	for range b.N {
		n, w := noopPasses(berth)
		noops, writes = append(noops, n...), writes+w
	}
	b.StopTimer()
	if len(noops) == 0 {
		b.Fatal("no re-list pass measured")
	}
	noop, lo, hi := stats(noops)
	// $BERTH_BENCH_BASELINE: another berth binary (an older build) whose
	// no-op pass is measured on the same 200 units, for a before/after
	// ratio from one run.
	if base := os.Getenv("BERTH_BENCH_BASELINE"); base != "" {
		old, w := noopPasses(fmt.Sprintf("%s --config-dir %s --state-dir %s ", base, config, state))
		if len(old) == 0 {
			b.Fatalf("no re-list pass measured with %s", base)
		}
		med, _, _ := stats(old)
		b.ReportMetric(float64(med.Microseconds())/1000, "noop-200-baseline-median-ms")
		b.Logf("no-op reconcile of 200 services with the baseline %s: median %v, %d D-Bus writes: baseline/this = %.1fx",
			base, med, w, float64(med)/float64(noop))
	}

	// 3. Idle RSS of the agent with 200 services.
	sh(fmt.Sprintf("systemd-run --unit bench-agent -p Type=notify -p NotifyAccess=main %sagent --interval 30s", berth))
	time.Sleep(5 * time.Second)
	rssKB, _ := strconv.Atoi(sh("grep VmRSS /proc/$(systemctl show -p MainPID --value bench-agent.service)/status | awk '{print $2}'"))
	sh("systemctl stop bench-agent.service")
	for p := range 20 {
		sh(fmt.Sprintf("%sdown p%02d", berth, p))
	}

	rss := float64(rssKB) / 1024
	b.ReportMetric(float64(noop.Microseconds())/1000, "noop-200-median-ms")
	b.ReportMetric(float64(writes), "noop-dbus-writes")
	b.ReportMetric(float64(berthApply.Milliseconds()), "apply50-berth-ms")
	b.ReportMetric(float64(podmanUp.Milliseconds()), "apply50-podman-compose-ms")
	b.ReportMetric(rss, "agent-idle-rss-MB")
	b.Logf("no-op reconcile of 200 services: median %v (p10 %v, p90 %v, n=%d) = %.2fx of the 100 ms target; %d D-Bus writes (target 0)",
		noop, lo, hi, len(noops), float64(noop)/float64(100*time.Millisecond), writes)
	b.Logf("apply of 50 services, cached images: berth %v, podman-compose up -d %v: podman-compose/berth = %.1fx",
		berthApply.Round(time.Millisecond), podmanUp.Round(time.Millisecond), float64(podmanUp)/float64(berthApply))
	b.Logf("agent idle RSS with 200 services: %.1f MB = %.2fx of the 25 MB target", rss, rss/25)
}
