package image

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestTagRollsBackWithoutRegistry is auto-update's rollback: the tag moved to
// v2, the store is told to point it at v1 again, and no request is made.
func TestTagRollsBackWithoutRegistry(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	s := newStore(t, t.TempDir())
	ref := reg.push(t, "app:stable", hostImage(t, busyboxLayer(t), layer(t, entry{name: "v", body: "1"})))
	v1img, err := s.Pull(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	repo := strings.TrimSuffix(ref, ":stable")
	if err := s.Tag(ctx, repo+"@"+v1img.Digest, v1img.Digest); err != nil {
		t.Fatalf("recording the rollback target: %v", err)
	}
	reg.push(t, "app:stable", hostImage(t, busyboxLayer(t), layer(t, entry{name: "v", body: "2"})))
	v2img, err := s.Pull(ctx, ref)
	if err != nil || v2img.Digest == v1img.Digest {
		t.Fatalf("pulling v2: %v (digest %s)", err, v2img.Digest)
	}
	// A prune that keeps the tag and the rollback target keeps v1's data.
	if err := s.Prune(ctx, []string{ref, repo + "@" + v1img.Digest}); err != nil {
		t.Fatal(err)
	}
	reg.take()
	if err := s.Tag(ctx, ref, v1img.Digest); err != nil {
		t.Fatalf("rolling back: %v", err)
	}
	got, err := s.Get(ctx, ref)
	if err != nil || got.Digest != v1img.Digest {
		t.Fatalf("after rollback Get = %+v, %v; want %s", got, err, v1img.Digest)
	}
	if reqs := reg.take(); len(reqs) != 0 {
		t.Errorf("Tag contacted the registry: %v", reqs)
	}

	err = s.Tag(ctx, ref, "sha256:"+strings.Repeat("0", 64))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("tagging an absent digest: %v; want ErrNotFound", err)
	}
	if got, _ := s.Get(ctx, ref); got == nil || got.Digest != v1img.Digest {
		t.Errorf("a failed Tag changed the tag: %+v", got)
	}
}

// TestTagIndexUsesThisPlatform tags by an index digest, as HEAD reports for
// multi-arch images, and gets this platform's manifest.
func TestTagIndexUsesThisPlatform(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	s := newStore(t, t.TempDir())
	mine := hostImage(t, busyboxLayer(t))
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        mine,
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}},
	})
	ref := reg.pushIndex(t, "multi:latest", idx)
	img, err := s.Pull(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.TrimSuffix(ref, ":latest") + ":other"
	if err := s.Tag(ctx, other, img.Digest); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, other)
	if err != nil || got.Digest != img.Digest || got.ManifestDigest != digestOf(t, mine) {
		t.Errorf("Get = %+v, %v; want index %s with manifest %s", got, err, img.Digest, digestOf(t, mine))
	}
}
