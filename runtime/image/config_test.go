package image

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

func withHealthcheck(t testing.TB, img v1.Image, test ...string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Healthcheck = &v1.HealthConfig{Test: test, Interval: 2 * time.Second, Retries: 4}
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConfigOfUnpulledAndPulledImages: the config of an image never pulled
// comes from the registry without a layer download; once pulled, the
// store's copy is what counts, even after the tag moved (the container
// would still run the pulled image), and no request is made.
func TestConfigOfUnpulledAndPulledImages(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	ref := reg.push(t, "app:1", withHealthcheck(t, hostImage(t, busyboxLayer(t)), "CMD-SHELL", "test -f /ready"))
	s := newStore(t, t.TempDir())

	hc, err := s.Healthcheck(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if hc == nil || strings.Join(hc.Test, " ") != "CMD-SHELL test -f /ready" || hc.Interval != 2*time.Second || hc.Retries != 4 {
		t.Fatalf("healthcheck of the unpulled image: %+v", hc)
	}
	blobs := 0
	for _, r := range reg.take() {
		if strings.HasPrefix(r, "GET") && strings.Contains(r, "/blobs/") {
			blobs++
		}
	}
	if blobs != 1 {
		t.Errorf("reading the config fetched %d blobs, want the config alone", blobs)
	}
	if _, err := s.Get(ctx, ref); err == nil {
		t.Errorf("reading the config recorded the image as pulled")
	}

	if _, err := s.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	reg.push(t, "app:1", withHealthcheck(t, hostImage(t, busyboxLayer(t)), "CMD", "other"))
	cfg, err := s.Config(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Healthcheck.Test, " "); got != "CMD-SHELL test -f /ready" {
		t.Errorf("after the tag moved, Config gives %q, want the pulled image's check", got)
	}
	if reqs := reg.take(); len(reqs) != 0 {
		t.Errorf("Config of a pulled image contacted the registry: %v", reqs)
	}
}

// BenchmarkHealthcheckPulled is what plan, apply and every agent pass pay
// per distinct image that asks for its HEALTHCHECK: refs.json, the manifest
// and the config read from the store.
func BenchmarkHealthcheckPulled(b *testing.B) {
	ctx := context.Background()
	reg := newTestRegistry(b)
	ref := reg.push(b, "app:1", withHealthcheck(b, hostImage(b, busyboxLayer(b)), "CMD", "true"))
	s := newStore(b, b.TempDir())
	if _, err := s.Pull(ctx, ref); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Healthcheck(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}
