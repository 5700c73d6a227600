package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/hack/e2e"
)

// netpodPodman runs Debian's podman-compose inside the sandbox with
// podman's state kept under the work dir: its own storage, network config
// dir and registries file (the test registry is plain HTTP), runc as the
// runtime and cgroupfs (the sandbox's systemd is not the host's).
type netpodPodman struct {
	sb      *e2e.Sandbox
	env     []string
	project string
	file    string
}

func netpodPodmanCompose(b *testing.B, sb *e2e.Sandbox, wd, registry, ref string) *netpodPodman {
	b.Helper()
	root := filepath.Join(wd, "podman")
	files := map[string]string{
		"containers.conf": fmt.Sprintf("[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = %q\n[network]\nnetwork_config_dir = %q\n",
			filepath.Join(root, "events.log"), filepath.Join(root, "networks")),
		"storage.conf":    fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n", filepath.Join(root, "storage"), filepath.Join(root, "run")),
		"registries.conf": fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", registry),
	}
	if err := os.MkdirAll(filepath.Join(root, "networks"), 0o700); err != nil {
		b.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	// The same 20 services as berth's project; the ulimits podman needs in
	// this environment (its defaults exceed the sandbox's hard limits).
	var c strings.Builder
	c.WriteString("services:\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&c, "  s%02d:\n    image: %s\n    command: [\"sleep\", \"600\"]\n    ports: [\"127.0.0.1:%d:80\"]\n    ulimits: {nofile: 1024, nproc: 1000}\n", i, ref, 19100+i)
	}
	file := filepath.Join(root, "compose.yaml")
	if err := os.WriteFile(file, []byte(c.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	p := &netpodPodman{sb: sb, project: "pbench", file: file, env: []string{
		"CONTAINERS_CONF=" + filepath.Join(root, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(root, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(root, "registries.conf"),
	}}
	p.run(b, "podman", "pull", "-q", ref) // not timed, as berth's pull
	b.Cleanup(func() {
		cmd := p.cmd(context.Background(), "podman-compose", "-p", p.project, "-f", p.file, "down", "-t", "0")
		_ = cmd.Run()
		_ = p.cmd(context.Background(), "podman", "system", "reset", "--force").Run()
	})
	return p
}

func (p *netpodPodman) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	return p.sb.Command(ctx, "env", append(append(append([]string{}, p.env...), name), args...)...)
}

func (p *netpodPodman) run(b *testing.B, name string, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := p.cmd(ctx, name, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cycle times `podman-compose up -d` until 20 containers run, then
// `podman-compose down -t 0`.
func (p *netpodPodman) cycle(b *testing.B) (up, down time.Duration) {
	b.Helper()
	t0 := time.Now()
	p.run(b, "podman-compose", "-p", p.project, "-f", p.file, "up", "-d")
	for {
		out := p.run(b, "podman", "ps", "-q", "--filter", "label=io.podman.compose.project="+p.project, "--filter", "status=running")
		if n := len(strings.Fields(out)); n == 20 {
			break
		}
		if time.Since(t0) > 3*time.Minute {
			b.Fatalf("podman-compose: not 20 containers running after 3 min:\n%s", p.run(b, "podman", "ps", "-a"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	up = time.Since(t0)
	t1 := time.Now()
	p.run(b, "podman-compose", "-p", p.project, "-f", p.file, "down", "-t", "0")
	return up, time.Since(t1)
}
