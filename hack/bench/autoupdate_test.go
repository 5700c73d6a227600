package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/hack/e2e"
	"github.com/berth-dev/berth/runtime/image"
)

const (
	benchServices = 100
	benchImages   = 20
)

// BenchmarkAutoUpdateCheck checks 100 services over 20 distinct images (five
// services per image, every tag moved since the services started) against
// the loopback docker-registry, three ways per iteration:
//   - check:  autoupdate.Check in process with the real image store (the
//     registry part alone);
//   - berth:  `berth auto-update --dry-run` end to end, over 100 real units
//     in a sandboxed systemd (listing them over D-Bus included);
//   - podman: `podman auto-update --dry-run` over 100 podman containers of
//     the same images with the same label.
//
// It fails when a berth check does not make exactly 20 HEAD requests.
func BenchmarkAutoUpdateCheck(b *testing.B) {
	e := newBenchEnv(b, true)
	wd, reg, sb, ctx, run := e.wd, e.reg, e.sb, e.ctx, e.run
	var refs []string
	for i := range benchImages {
		refs = append(refs, e.pushBusybox(fmt.Sprintf("app%d:stable", i), e2e.WithFile("/etc/app", []byte(fmt.Sprintf("app %d v1\n", i)))))
	}

	// berth: 100 services, five per image.
	config, state := filepath.Join(wd, "etc"), filepath.Join(wd, "state")
	var proj strings.Builder
	proj.WriteString("services:\n")
	for i := range benchServices {
		fmt.Fprintf(&proj, "  s%d:\n    image: %s\n    command: [sleep, \"86400\"]\n    init: true\n    labels:\n      io.containers.autoupdate: registry\n",
			i, refs[i%benchImages])
	}
	if err := os.MkdirAll(filepath.Join(config, "bench"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(config, "bench", "compose.yaml"), []byte(proj.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	berth := func(args ...string) []byte {
		b.Helper()
		full := append([]string{"--config-dir", config, "--state-dir", state}, args...)
		out, err := sb.Exec(ctx, e.bin, full...)
		if err != nil {
			b.Fatalf("berth %v: %v\n%s", args, err, out)
		}
		return out
	}
	t0 := time.Now()
	berth("apply")
	b.Logf("applied %d services in %s", benchServices, time.Since(t0).Round(time.Millisecond))

	// podman: the same images, 100 containers with the same label, in a
	// store of its own.
	podman := []string{"--runtime", "runc", "--cgroup-manager", "cgroupfs",
		"--root", filepath.Join(wd, "podman"), "--runroot", "/run/podman-bench"} // runroot: at most 50 characters; /run is the sandbox's own
	for _, ref := range refs {
		run("podman", append(podman, "pull", "--tls-verify=false", "-q", ref)...)
	}
	t0 = time.Now()
	for i := range benchServices {
		run("podman", append(podman, "run", "--detach", "--name", fmt.Sprintf("s%d", i),
			"--label", "io.containers.autoupdate=registry", "--label", fmt.Sprintf("PODMAN_SYSTEMD_UNIT=podman-s%d.service", i),
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000", refs[i%benchImages], "sleep", "86400")...)
	}
	b.Logf("started %d podman containers in %s", benchServices, time.Since(t0).Round(time.Millisecond))
	b.Cleanup(func() {
		for i := range benchServices {
			_ = sb.Command(ctx, "podman", append(podman, "rm", "--force", "--time", "0", fmt.Sprintf("s%d", i))...).Run()
		}
	})

	regConf := filepath.Join(wd, "registries.conf")
	if err := os.WriteFile(regConf, fmt.Appendf(nil, "[[registry]]\nlocation = %q\ninsecure = true\n", reg.Addr()), 0o644); err != nil {
		b.Fatal(err)
	}

	// Move every tag.
	for i, ref := range refs {
		img, err := e2e.BuildBusybox(e2e.WithFile("/etc/app", []byte(fmt.Sprintf("app %d v2\n", i))))
		if err != nil {
			b.Fatal(err)
		}
		reg.Push(b, ref, img)
	}

	// In-process check: the same targets as the CLI sees, through the same store.
	store, err := image.NewStore(filepath.Join(state, "images"), image.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var targets []autoupdate.Target
	for i := range benchServices {
		targets = append(targets, autoupdate.Target{
			Unit:          fmt.Sprintf("berth-bench-s%d.service", i),
			Service:       &model.Service{Project: "bench", Name: fmt.Sprintf("s%d", i), Image: refs[i%benchImages], Labels: map[string]string{autoupdate.Label: "registry"}},
			RunningDigest: "sha256:old",
		})
	}

	times := map[string][]time.Duration{}
	heads := map[string]int{}
	timeIt := func(name string, f func()) {
		reg.ResetCounts()
		t0 := time.Now()
		f()
		times[name] = append(times[name], time.Since(t0))
		heads[name] = reg.HeadCount()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		timeIt("check", func() {
			res := autoupdate.Check(ctx, targets, storeResolver{store}, 4)
			for _, r := range res {
				if r.Status != autoupdate.StatusPending {
					b.Fatalf("%s: %s %v", r.Unit, r.Status, r.Err)
				}
			}
		})
		if heads["check"] != benchImages {
			b.Fatalf("in-process check made %d HEAD requests, want %d", heads["check"], benchImages)
		}
		timeIt("berth", func() {
			var rows []struct{ Result string }
			out := berth("auto-update", "--dry-run", "--format", "json")
			if err := json.Unmarshal(out, &rows); err != nil || len(rows) != benchServices {
				b.Fatalf("auto-update json: %v, %d rows\n%s", err, len(rows), out)
			}
			for _, r := range rows {
				if r.Result != "pending" {
					b.Fatalf("row %+v; want pending", r)
				}
			}
		})
		if heads["berth"] != benchImages {
			b.Fatalf("berth auto-update --dry-run made %d HEAD requests, want %d", heads["berth"], benchImages)
		}
		timeIt("podman", func() {
			// podman 4.3's auto-update has no --tls-verify: list the
			// plain-HTTP registry as insecure in a registries.conf of its own.
			args := append([]string{"CONTAINERS_REGISTRIES_CONF=" + regConf, "podman"}, podman...)
			args = append(args, "auto-update", "--dry-run", "--format", "{{.Unit}} {{.Updated}}")
			out, err := sb.Command(ctx, "env", args...).CombinedOutput()
			if err != nil {
				b.Fatalf("podman auto-update --dry-run: %v\n%s", err, out)
			}
			if n := strings.Count(string(out), "pending"); n != benchServices {
				b.Fatalf("podman auto-update --dry-run reported %d pending, want %d:\n%s", n, benchServices, out)
			}
		})
	}
	b.StopTimer()
	med := map[string]time.Duration{}
	for _, name := range []string{"check", "berth", "podman"} {
		m, lo, hi := stats(times[name])
		med[name] = m
		b.ReportMetric(float64(m.Microseconds())/1000, name+"-median-ms")
		b.Logf("%-6s median %v  p10 %v  p90 %v  HEADs %d  (n=%d)", name, m, lo, hi, heads[name], len(times[name]))
	}
	b.ReportMetric(float64(heads["berth"]), "berth-HEADs")
	b.ReportMetric(float64(heads["podman"]), "podman-HEADs")
	b.ReportMetric(float64(med["podman"])/float64(med["berth"]), "podman/berth")
	b.Logf("berth end to end %v (target <= 300ms), in-process check %v; podman/berth = %.1fx; HEADs berth %d, podman %d",
		med["berth"], med["check"], float64(med["podman"])/float64(med["berth"]), heads["berth"], heads["podman"])
}

// storeResolver is the image store as autoupdate.Check's Resolver.
type storeResolver struct{ s *image.Store }

func (r storeResolver) Resolve(ctx context.Context, ref string) (string, error) {
	return r.s.Resolve(ctx, ref)
}
