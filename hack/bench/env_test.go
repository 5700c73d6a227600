package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hack/e2e"
)

// benchEnv is the setup the benchmarks here share: a berth binary built
// from this tree, Debian's docker-registry on loopback and a sandboxed
// systemd, plus a log file that takes the output of commands run in it.
//
// The log is a file, not a pipe, on purpose: a detached container inherits
// it, and waiting for a pipe's EOF would wait for the container.
type benchEnv struct {
	b   *testing.B
	ctx context.Context
	wd  string // work dir, seen at the same path inside the sandbox
	bin string // the berth binary
	reg *e2e.Registry
	sb  *e2e.Sandbox
	log *os.File
}

// newBenchEnv builds berth, starts the registry and boots the sandbox.
// networked is for benchmarks whose services get networks: the CNI plugins
// are built next to the binary, where berth looks, and the sandbox gets a
// network namespace of its own (the registry forwarded into it), so bridges
// and rules stay off the host. Everything is torn down when the benchmark
// ends.
func newBenchEnv(b *testing.B, networked bool) *benchEnv {
	b.Helper()
	e := &benchEnv{b: b, ctx: context.Background(), wd: e2e.WorkDir(b)}
	e.bin = buildBerth(b, e.wd)
	e.reg = e2e.StartRegistry(b)
	var opts []e2e.SandboxOption
	if networked {
		e2e.BuildCNIPlugins(b, filepath.Join(e.wd, "cni"))
		opts = append(opts, e2e.WithNetNS(e.reg.Addr()))
	}
	e.sb = e2e.BootSystemd(b, opts...)
	logf, err := os.Create(filepath.Join(e.wd, "commands.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { logf.Close() })
	e.log = logf
	return e
}

// pushBusybox builds a busybox image with opts and pushes it to the
// registry as repoTag; it returns the full reference.
func (e *benchEnv) pushBusybox(repoTag string, opts ...e2e.ImageOption) string {
	e.b.Helper()
	img, err := e2e.BuildBusybox(opts...)
	if err != nil {
		e.b.Fatal(err)
	}
	ref := e.reg.Ref(repoTag)
	e.reg.Push(e.b, ref, img)
	return ref
}

// run runs a command in the sandbox with its output going to the log, and
// fails the benchmark with the log and the journal's tail if it fails.
func (e *benchEnv) run(name string, args ...string) {
	e.b.Helper()
	cmd := e.sb.Command(e.ctx, name, args...)
	cmd.Stdout, cmd.Stderr = e.log, e.log
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(e.log.Name())
		journal, _ := e.sb.Command(e.ctx, "journalctl", "--no-pager", "-n", "40").CombinedOutput()
		e.b.Fatalf("%s %s: %v\n%s\njournal:\n%s", name, strings.Join(args, " "), err, out, journal)
	}
}

// sh runs a shell script in the sandbox and returns its combined output,
// trimmed; it fails the benchmark if the script fails.
func (e *benchEnv) sh(script string) string {
	e.b.Helper()
	out, err := e.sb.Command(e.ctx, "sh", "-c", script).CombinedOutput()
	if err != nil {
		e.b.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(string(out))
}

// stats returns the median and the 10th and 90th percentiles.
func stats(d []time.Duration) (med, p10, p90 time.Duration) {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1)+0.5)] }
	return at(0.5), at(0.1), at(0.9)
}

// buildBerth builds berth and, beside it, berth-launcher (which the units
// berth writes execute) with the seccomp tag into dir.
func buildBerth(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "berth")
	cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", dir+"/", "./cmd/berth", "./cmd/berth-launcher")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building berth: %v\n%s", err, out)
	}
	return bin
}
