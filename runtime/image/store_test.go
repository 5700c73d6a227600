package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPullThenGet(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	img := hostImage(t, busyboxLayer(t), layer(t, entry{name: "etc/motd", body: "hello\n"}))
	ref := reg.push(t, "busybox:latest", img)
	s := newStore(t, t.TempDir())

	pulled, err := s.Pull(ctx, strings.TrimSuffix(ref, ":latest")) // tag defaults to latest
	if err != nil {
		t.Fatal(err)
	}
	if pulled.Ref != ref {
		t.Errorf("Ref = %q, want %q", pulled.Ref, ref)
	}
	head, err := remote.Head(mustParse(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	if pulled.Digest != head.Digest.String() || pulled.ManifestDigest != head.Digest.String() {
		t.Errorf("Digest %s / ManifestDigest %s, HEAD says %s", pulled.Digest, pulled.ManifestDigest, head.Digest)
	}
	if got, err := s.Resolve(ctx, ref); err != nil || got != head.Digest.String() {
		t.Errorf("Resolve = %s, %v; want %s", got, err, head.Digest)
	}
	if !slices.Equal(pulled.Config.Entrypoint, []string{"/bin/sh"}) || pulled.Config.StopSignal != "SIGQUIT" ||
		pulled.Config.WorkingDir != "/tmp" {
		t.Errorf("config not kept: %+v", pulled.Config)
	}
	if len(pulled.Layers) != 2 {
		t.Fatalf("Layers = %v, want 2", pulled.Layers)
	}
	if _, err := os.Stat(filepath.Join(pulled.Layers[0], "bin", "busybox")); err != nil {
		t.Errorf("lowest layer lacks bin/busybox: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(pulled.Layers[1], "etc", "motd")); err != nil || string(b) != "hello\n" {
		t.Errorf("top layer etc/motd = %q, %v", b, err)
	}
	for _, l := range pulled.Layers {
		if !filepath.IsAbs(l) || len(filepath.Base(l)) != shortIDLen {
			t.Errorf("layer dir %s is not an absolute short name", l)
		}
	}

	got, err := s.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != pulled.Digest || !slices.Equal(got.Layers, pulled.Layers) || got.Ref != ref {
		t.Errorf("Get = %+v, Pull = %+v", got, pulled)
	}
	// A store opened afresh on the same root (another berth process) sees it too.
	if _, err := newStore(t, s.root).Get(ctx, ref); err != nil {
		t.Errorf("Get from a second store: %v", err)
	}
	if fi, err := os.Stat(s.root); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("store root mode = %v, %v; want 0700", fi.Mode(), err)
	}
}

func TestSecondPullDownloadsNothing(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	ref := reg.push(t, "app:1", hostImage(t, busyboxLayer(t), layer(t, entry{name: "a", body: "a"})))
	root := t.TempDir()
	s := newStore(t, root)
	if _, err := s.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	first := reg.take()
	if n := countPrefix(first, "GET /v2/app/blobs/"); n != 3 {
		t.Errorf("first pull fetched %d blobs, want 3 (config + 2 layers): %v", n, first)
	}

	for _, st := range []*Store{s, newStore(t, root)} { // same client, and a fresh process
		if _, err := st.Pull(ctx, ref); err != nil {
			t.Fatal(err)
		}
		again := reg.take()
		if n := countPrefix(again, "GET /v2/app/blobs/") + countPrefix(again, "GET /v2/app/manifests/"); n != 0 {
			t.Errorf("second pull downloaded again: %v", again)
		}
		if n := countPrefix(again, "HEAD /v2/app/manifests/1"); n != 1 {
			t.Errorf("second pull must ask the registry once with HEAD, got %v", again)
		}
	}

	// A new tag sharing the busybox layer downloads only what is new.
	ref2 := reg.push(t, "app:2", hostImage(t, busyboxLayer(t), layer(t, entry{name: "b", body: "b"})))
	if _, err := s.Pull(ctx, ref2); err != nil {
		t.Fatal(err)
	}
	if n := countPrefix(reg.take(), "GET /v2/app/blobs/"); n != 2 {
		t.Errorf("pull sharing a layer fetched %d blobs, want 2 (config + new layer)", n)
	}
}

func countPrefix(reqs []string, prefix string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func TestMissingImageErrorNamesRef(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	s := newStore(t, t.TempDir())
	ref := reg.host + "/nope:latest"

	_, err := s.Pull(ctx, ref)
	want := "pulling " + ref + ": manifest unknown"
	if err == nil || err.Error() != want {
		t.Errorf("Pull error = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Pull error %v does not match ErrNotFound", err)
	}
	if _, err := s.Get(ctx, ref); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), ref) {
		t.Errorf("Get error = %v, want ErrNotFound naming %s", err, ref)
	}
	if _, err := s.Resolve(ctx, ref); err == nil || !strings.Contains(err.Error(), ref) {
		t.Errorf("Resolve error = %v, want one naming %s", err, ref)
	}
	// A registry that is not there: the error still names the ref.
	_, err = s.Pull(ctx, "127.0.0.1:1/gone:latest")
	if err == nil || !strings.HasPrefix(err.Error(), "pulling 127.0.0.1:1/gone:latest: ") {
		t.Errorf("Pull from a closed port = %v", err)
	}
}

func TestEnsurePullsOnlyWhenAbsent(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	ref := reg.push(t, "e:latest", hostImage(t, busyboxLayer(t)))
	s := newStore(t, t.TempDir())
	if _, err := s.Ensure(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if len(reg.take()) == 0 {
		t.Fatal("first Ensure did not pull")
	}
	if _, err := s.Ensure(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if reqs := reg.take(); len(reqs) != 0 {
		t.Errorf("Ensure of a present image contacted the registry: %v", reqs)
	}
}

func TestIndexDigestRecorded(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	mine := hostImage(t, busyboxLayer(t), layer(t, entry{name: "arch", body: runtime.GOARCH}))
	foreign := image(t, other, layer(t, entry{name: "arch", body: other}))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: foreign, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: other}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	ref := reg.pushIndex(t, "multi:latest", idx)
	s := newStore(t, t.TempDir())

	img, err := s.Pull(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if want := digestOf(t, idx); img.Digest != want {
		t.Errorf("Digest = %s, want the index digest %s", img.Digest, want)
	}
	if want := digestOf(t, mine); img.ManifestDigest != want {
		t.Errorf("ManifestDigest = %s, want linux/%s manifest %s", img.ManifestDigest, runtime.GOARCH, want)
	}
	if !slices.Contains(img.Config.Env, "ARCH="+runtime.GOARCH) {
		t.Errorf("config of the wrong platform: %v", img.Config.Env)
	}
	if d, err := s.Resolve(ctx, ref); err != nil || d != img.Digest {
		t.Errorf("Resolve = %s, %v; want %s", d, err, img.Digest)
	}
	if got, err := s.Get(ctx, ref); err != nil || got.Digest != img.Digest || got.ManifestDigest != img.ManifestDigest {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if reqs := reg.take(); countPrefix(reqs, "GET /v2/multi/blobs/") != 3 {
		t.Errorf("pulled foreign blobs too: %v", reqs)
	}
}

func TestPruneRemovesUnreferencedLayers(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	keep := reg.push(t, "keep:latest", hostImage(t, busyboxLayer(t), layer(t, entry{name: "k", body: "k"})))
	drop := reg.push(t, "drop:latest", hostImage(t, busyboxLayer(t), layer(t, entry{name: "d", body: "d"})))
	s := newStore(t, t.TempDir())
	kept, err := s.Pull(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := s.Pull(ctx, drop)
	if err != nil {
		t.Fatal(err)
	}
	if kept.Layers[0] != dropped.Layers[0] {
		t.Fatalf("shared busybox layer unpacked twice: %s vs %s", kept.Layers[0], dropped.Layers[0])
	}
	_ = os.WriteFile(filepath.Join(s.root, "tmp", "leftover"), []byte("x"), 0o600)

	if err := s.Prune(ctx, []string{keep}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dropped.Layers[1]); !os.IsNotExist(err) {
		t.Errorf("unreferenced layer %s survived prune: %v", dropped.Layers[1], err)
	}
	for _, l := range kept.Layers {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("kept layer %s gone: %v", l, err)
		}
	}
	if _, err := s.Get(ctx, drop); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get pruned ref = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, keep); err != nil {
		t.Errorf("Get kept ref: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "blobs", "sha256", strings.TrimPrefix(dropped.Digest, "sha256:"))); !os.IsNotExist(err) {
		t.Errorf("manifest of pruned image survived: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.root, "tmp")); len(ents) != 0 {
		t.Errorf("tmp not emptied: %v", ents)
	}

	if err := s.Remove(ctx, keep); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.root, "l")); len(ents) != 0 {
		t.Errorf("layers left after removing the last image: %v", ents)
	}
	if err := s.Remove(ctx, keep); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}

// Two stores on one root stand for two `berth run` processes pulling at once:
// flock locks are per open file, so they exclude each other like processes do.
func TestConcurrentPullsShareOneDownload(t *testing.T) {
	ctx := context.Background()
	reg := newTestRegistry(t)
	img := hostImage(t, busyboxLayer(t), layer(t, entry{name: "c", body: "c"}))
	ref := reg.push(t, "conc:latest", img)
	root := t.TempDir()
	stores := []*Store{newStore(t, root), newStore(t, root), newStore(t, root)}

	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, st := range stores {
		wg.Go(func() { _, errs[i] = st.Pull(ctx, ref) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	reqs := reg.take()
	for _, l := range layers {
		d, _ := l.Digest()
		if n := countPrefix(reqs, "GET /v2/conc/blobs/"+d.String()); n != 1 {
			t.Errorf("layer %s downloaded %d times by concurrent pulls, want 1", d, n)
		}
	}
	got, err := stores[0].Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(got.Layers[0], "bin", "busybox")); err != nil {
		t.Error(err)
	}
}

func TestShortNamesFollowDocker(t *testing.T) {
	s := newStore(t, t.TempDir())
	for in, want := range map[string]string{
		"busybox":                "index.docker.io/library/busybox:latest",
		"library/busybox:1.36":   "index.docker.io/library/busybox:1.36",
		"ghcr.io/me/app":         "ghcr.io/me/app:latest",
		"127.0.0.1:5000/busybox": "127.0.0.1:5000/busybox:latest",
		"localhost:5000/x/y:v1":  "localhost:5000/x/y:v1",
	} {
		r, err := s.parse(in)
		if err != nil || r.Name() != want {
			t.Errorf("parse(%q) = %v, %v; want %s", in, r, err, want)
		}
	}
}
