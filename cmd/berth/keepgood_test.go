package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/image"
)

// TestApplyKeepsDigestRecordedBad: once auto-update rolled a digest back,
// apply's pull of the tag keeps the digest the store has, records the bad
// one as available in the lockfile, and plan says the recreate keeps it.
func TestApplyKeepsDigestRecordedBad(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/app:1"
	push := func() string {
		t.Helper()
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		r, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	ctx := context.Background()
	state := t.TempDir()
	s, err := image.NewStore(filepath.Join(state, "images"), image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := puller{s, state, (&globalOptions{}).logger()}
	good := push()
	if err := p.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	bad := push()
	st := autoupdate.State{Dir: filepath.Join(state, "autoupdate")}
	if err := st.MarkBad(ref, autoupdate.BadDigest{Digest: bad, Reason: "exited 1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	if err := p.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if img, err := s.Get(ctx, ref); err != nil || img.Digest != good {
		t.Fatalf("after apply's pull the tag names %v (%v); want the good %s", img, err, good)
	}
	lock, err := autoupdate.ReadLockfile(state)
	if err != nil || lock.Images[ref].Digest != good || lock.Images[ref].Available != bad {
		t.Errorf("lockfile %+v, %v; want digest %s, available %s", lock.Images[ref], err, good, bad)
	}
	plan := &reconciler.Plan{Changes: []reconciler.Change{{Action: reconciler.Recreate, Unit: "berth-p-a.service",
		Desired: &model.Service{Project: "p", Name: "a", Image: ref, AutoUpdate: "registry"}}}}
	var b strings.Builder
	if err := printPendingUpdates(&b, state, plan); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "rolled back") || !strings.Contains(out, "this recreate keeps "+shortDigest(good)) {
		t.Errorf("plan:\n%s", out)
	}
	// Without a policy too: apply would pull the tag all the same.
	plan.Changes[0].Desired.AutoUpdate = ""
	b.Reset()
	if err := printPendingUpdates(&b, state, plan); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "= keep p/a") || !strings.Contains(out, "this recreate keeps "+shortDigest(good)) {
		t.Errorf("plan without a policy:\n%s", out)
	}

	// The tag moves on: apply pulls again.
	next := push()
	if err := p.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if img, _ := s.Get(ctx, ref); img == nil || img.Digest != next {
		t.Errorf("after the tag moved apply's pull kept %v; want %s", img, next)
	}
}
