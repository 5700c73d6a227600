package autoupdate

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// registryStore is a fake image store in front of a fake registry: remote
// is what the registry serves for a tag, tags what the store has.
type registryStore struct {
	remote map[string]string
	tags   map[string]string
	stored map[string]bool
	pulls  int
	heads  int
}

func newRegistryStore() *registryStore {
	return &registryStore{remote: map[string]string{}, tags: map[string]string{}, stored: map[string]bool{}}
}

func (s *registryStore) Resolve(_ context.Context, ref string) (string, error) {
	s.heads++
	d, ok := s.remote[ref]
	if !ok {
		return "", errors.New("manifest unknown")
	}
	return d, nil
}

func (s *registryStore) LocalDigest(_ context.Context, ref string) (string, error) {
	d, ok := s.tags[ref]
	if !ok {
		return "", errors.New("not in the store")
	}
	return d, nil
}

func (s *registryStore) Tag(_ context.Context, ref, digest string) error {
	if !s.stored[digest] {
		return errors.New(digest + ": not in the store")
	}
	s.tags[ref] = digest
	return nil
}

func (s *registryStore) Pull(ctx context.Context, ref string) (string, error) {
	d, err := s.Resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	s.pulls++
	s.stored[d], s.tags[ref] = true, d
	return d, nil
}

// TestApplyKeepsDigestRecordedBad: once auto-update rolled a digest back,
// apply's pull of the tag keeps the digest the store has, records the bad
// one as available in the lockfile, and the pending updates say the
// recreate keeps it, with a policy or without.
func TestApplyKeepsDigestRecordedBad(t *testing.T) {
	ctx := context.Background()
	const ref = "reg/app:1"
	state := t.TempDir()
	s := newRegistryStore()
	p := Puller{Images: s, State: State{Dir: filepath.Join(state, "autoupdate")}, StateDir: state}

	s.remote[ref] = "sha256:good"
	if err := p.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	s.remote[ref] = "sha256:bad"
	if err := p.State.MarkBad(ctx, ref, BadDigest{Digest: "sha256:bad", Reason: "exited 1", At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	if err := p.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if s.tags[ref] != "sha256:good" || s.stored["sha256:bad"] {
		t.Fatalf("after apply's pull the tag names %s (bad stored: %v); want the good digest", s.tags[ref], s.stored["sha256:bad"])
	}
	lock, err := ReadLockfile(ctx, state)
	if err != nil || lock.Images[ref].Digest != "sha256:good" || lock.Images[ref].Available != "sha256:bad" {
		t.Errorf("lockfile %+v, %v; want digest good, available bad", lock.Images[ref], err)
	}
	planned := []Planned{{Unit: "berth-p-a.service", Starts: true, Service: svcWith("a", ref, "registry")}}
	pending, err := PendingUpdates(ctx, p.State, state, planned)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending %+v, %v", pending, err)
	}
	if u := pending[0]; !u.Update || u.Bad == nil || u.Bad.Reason != "exited 1" || !u.Starts || u.Lock.Digest != "sha256:good" {
		t.Errorf("pending %+v; want an update recorded bad, the recreate keeping good", u)
	}
	// Without a policy too: apply would pull the tag all the same.
	planned[0].Service.AutoUpdate = ""
	pending, err = PendingUpdates(ctx, p.State, state, planned)
	if err != nil || len(pending) != 1 || pending[0].Update || pending[0].Bad == nil || pending[0].Lock.Digest != "sha256:good" {
		t.Errorf("pending without a policy %+v, %v; want a keep of good", pending, err)
	}

	// The tag moves on: apply pulls again.
	s.remote[ref] = "sha256:next"
	if err := p.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if s.tags[ref] != "sha256:next" {
		t.Errorf("after the tag moved apply's pull kept %s; want next", s.tags[ref])
	}
}

// TestKeepGoodUsesRollbackTarget: when the store's tag already names the
// bad digest, the guard points it back at the service's rollback target.
func TestKeepGoodUsesRollbackTarget(t *testing.T) {
	ctx := context.Background()
	const ref = "reg/app:1"
	s := newRegistryStore()
	s.remote[ref] = "sha256:bad"
	s.stored["sha256:bad"], s.stored["sha256:old"] = true, true
	s.tags[ref] = "sha256:bad"
	st := State{Dir: t.TempDir()}
	if err := st.MarkBad(ctx, ref, BadDigest{Digest: "sha256:bad", Reason: "unhealthy", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRollbackTarget(ctx, "p-a", RollbackTarget{Image: ref, Digest: "sha256:old"}); err != nil {
		t.Fatal(err)
	}
	kept, bad, ok := st.KeepGood(ctx, s, nil, ref)
	if !ok || kept != "sha256:old" || bad != "sha256:bad" || s.tags[ref] != "sha256:old" {
		t.Errorf("KeepGood = %s, %s, %v; tag %s; want the rollback target old", kept, bad, ok, s.tags[ref])
	}
	// Nothing recorded bad for another tag: no registry request at all.
	heads := s.heads
	s.remote["reg/other:1"] = "sha256:o"
	if _, _, ok := st.KeepGood(ctx, s, nil, "reg/other:1"); ok || s.heads != heads {
		t.Errorf("KeepGood of a tag with nothing recorded bad: ok %v, %d registry requests", ok, s.heads-heads)
	}
}
