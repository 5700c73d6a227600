package image

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

const helperEnv = "BERTH_IMAGE_TEST_PULL" // "<root> <ref>": run as a pulling child process

// TestHelperPull is not a test on its own: TestConcurrentProcessPulls runs this
// test binary as child processes that each pull into one shared store.
func TestHelperPull(t *testing.T) {
	arg := os.Getenv(helperEnv)
	if arg == "" {
		return // only meaningful as a child process
	}
	root, ref, _ := strings.Cut(arg, " ")
	s, err := NewStore(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentProcessPulls(t *testing.T) {
	reg := newTestRegistry(t)
	img := hostImage(t, busyboxLayer(t), layer(t, entry{name: "p", body: "p"}))
	ref := reg.push(t, "proc:latest", img)
	root := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Go(func() {
			cmd := exec.Command(exe, "-test.run=^TestHelperPull$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperEnv+"="+root+" "+ref)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = errors.New(string(out))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("child pulls failed: %v", err)
	}
	layers, _ := img.Layers()
	reqs := reg.take()
	for _, l := range layers {
		d, _ := l.Digest()
		if n := countPrefix(reqs, "GET /v2/proc/blobs/"+d.String()); n != 1 {
			t.Errorf("layer %s downloaded %d times by 3 processes, want 1", d, n)
		}
	}
	got, err := newStore(t, root).Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 2 {
		t.Errorf("layers = %v", got.Layers)
	}
}
