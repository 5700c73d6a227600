package autoupdate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// fakeStore answers from maps and counts every question, like a registry
// that counts HEAD requests.
type fakeStore struct {
	mu       sync.Mutex
	remote   map[string]string
	local    map[string]string
	fail     map[string]error
	calls    map[string]int
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func (f *fakeStore) count(ref string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[ref]++
}

func (f *fakeStore) Resolve(ctx context.Context, ref string) (string, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	f.count(ref)
	if err := f.fail[ref]; err != nil {
		return "", err
	}
	d, ok := f.remote[ref]
	if !ok {
		return "", fmt.Errorf("%s: not found", ref)
	}
	return d, nil
}

func (f *fakeStore) LocalDigest(ctx context.Context, ref string) (string, error) {
	f.count("local:" + ref)
	d, ok := f.local[ref]
	if !ok {
		return "", fmt.Errorf("%s: not in the local store", ref)
	}
	return d, nil
}

// resolverOnly hides LocalDigest.
type resolverOnly struct{ r Resolver }

func (r resolverOnly) Resolve(ctx context.Context, ref string) (string, error) {
	return r.r.Resolve(ctx, ref)
}

func target(name, image, policy, running string) Target {
	svc := &model.Service{Project: "p", Name: name, Image: image}
	if policy != "" {
		svc.Labels = map[string]string{Label: policy}
	}
	return Target{Unit: "berth-p-" + name + ".service", Service: svc, RunningDigest: running}
}

func TestCheckAsksOncePerDistinctImage(t *testing.T) {
	f := &fakeStore{remote: map[string]string{"reg/app:1": "sha256:new", "reg/db:1": "sha256:db"}}
	res := Check(context.Background(), []Target{
		target("a", "reg/app:1", "registry", "sha256:old"),
		target("b", "reg/app:1", "registry", "sha256:old"),
		target("db", "reg/db:1", "registry", "sha256:db"),
	}, f, 4)
	if f.calls["reg/app:1"] != 1 || f.calls["reg/db:1"] != 1 {
		t.Errorf("resolver calls = %v; want one per image", f.calls)
	}
	for i, want := range []Status{StatusPending, StatusPending, StatusUnchanged} {
		if res[i].Status != want || res[i].Err != nil {
			t.Errorf("%s: status %s (%v), want %s", res[i].Unit, res[i].Status, res[i].Err, want)
		}
	}
	if res[0].From != "sha256:old" || res[0].To != "sha256:new" || res[0].Image != "reg/app:1" || res[0].Policy != PolicyRegistry {
		t.Errorf("result = %+v", res[0])
	}
}

func TestCheckRegistryErrorAffectsOnlyItsImage(t *testing.T) {
	boom := errors.New("connection refused")
	f := &fakeStore{
		remote: map[string]string{"reg/ok:1": "sha256:new"},
		fail:   map[string]error{"reg/down:1": boom},
	}
	res := Check(context.Background(), []Target{
		target("x", "reg/down:1", "registry", "sha256:a"),
		target("ok", "reg/ok:1", "registry", "sha256:old"),
		target("y", "reg/down:1", "registry", "sha256:a"),
	}, f, 2)
	for _, i := range []int{0, 2} {
		if res[i].Status != StatusFailed || !errors.Is(res[i].Err, boom) {
			t.Errorf("%s: %s, %v; want failed with the registry's error", res[i].Unit, res[i].Status, res[i].Err)
		}
	}
	if res[1].Status != StatusPending || res[1].Err != nil {
		t.Errorf("ok: %s, %v; want pending", res[1].Status, res[1].Err)
	}
	if f.calls["reg/down:1"] != 1 || !Failed(res) {
		t.Errorf("calls %v, Failed %v", f.calls, Failed(res))
	}
}

func TestCheckPinnedDisabledAndBadPolicyAskNothing(t *testing.T) {
	f := &fakeStore{}
	pinned := "reg/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	res := Check(context.Background(), []Target{
		target("pinned", pinned, "registry", "sha256:x"),
		target("default", "reg/app:1", "", "sha256:x"),
		target("off", "reg/app:1", "disabled", "sha256:x"),
		target("bad", "reg/app:1", "weekly", "sha256:x"),
		target("stopped", "reg/app:1", "registry", ""),
		{Unit: "berth-p-nospec.service"},
	}, f, 1)
	want := []Status{StatusPinned, StatusDisabled, StatusDisabled, StatusFailed, StatusFailed, StatusFailed}
	for i, w := range want {
		if res[i].Status != w {
			t.Errorf("%s: status %s (%v), want %s", res[i].Unit, res[i].Status, res[i].Err, w)
		}
	}
	if res[3].Err == nil || !strings.Contains(res[3].Err.Error(), "registry, local, disabled") {
		t.Errorf("bad policy error %v does not list the valid values", res[3].Err)
	}
	if !errors.Is(res[4].Err, ErrUnknownDigest) {
		t.Errorf("stopped: %v, want ErrUnknownDigest", res[4].Err)
	}
	if len(f.calls) != 0 {
		t.Errorf("resolver asked %v; want nothing", f.calls)
	}
}

func TestCheckLocalPolicyUsesLocalStore(t *testing.T) {
	f := &fakeStore{
		remote: map[string]string{"reg/app:1": "sha256:remote"},
		local:  map[string]string{"reg/app:1": "sha256:pulled"},
	}
	ts := []Target{
		target("l", "reg/app:1", "local", "sha256:running"),
		target("r", "reg/app:1", "registry", "sha256:running"),
	}
	res := Check(context.Background(), ts, f, 2)
	if res[0].Status != StatusPending || res[0].To != "sha256:pulled" {
		t.Errorf("local: %+v; want pending to the locally recorded digest", res[0])
	}
	if res[1].Status != StatusPending || res[1].To != "sha256:remote" {
		t.Errorf("registry: %+v", res[1])
	}
	if f.calls["local:reg/app:1"] != 1 || f.calls["reg/app:1"] != 1 {
		t.Errorf("calls = %v", f.calls)
	}

	res = Check(context.Background(), ts[:1], resolverOnly{f}, 1)
	if res[0].Status != StatusFailed || !errors.Is(res[0].Err, ErrNoLocalStore) {
		t.Errorf("local without a local store: %s, %v", res[0].Status, res[0].Err)
	}
}

func TestCheckBoundsParallelism(t *testing.T) {
	f := &fakeStore{remote: map[string]string{}}
	var ts []Target
	for i := range 12 {
		ref := fmt.Sprintf("reg/app%d:1", i)
		f.remote[ref] = "sha256:new"
		ts = append(ts, target(fmt.Sprint(i), ref, "registry", "sha256:old"))
	}
	res := Check(context.Background(), ts, f, 3)
	if got := f.maxSeen.Load(); got > 3 || got < 2 {
		t.Errorf("max concurrent resolves = %d, want 2..3", got)
	}
	for _, r := range res {
		if r.Status != StatusPending {
			t.Errorf("%s: %s", r.Unit, r.Status)
		}
	}
}
