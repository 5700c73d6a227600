package image

import (
	"context"
	"sync"
	"testing"
)

// TestPullReportsLayerProgress: a pull with WithProgress reports every
// layer's bytes up to its size, and a second pull reports them cached.
func TestPullReportsLayerProgress(t *testing.T) {
	reg := newTestRegistry(t)
	ref := reg.push(t, "app:1", hostImage(t, busyboxLayer(t), layer(t, entry{name: "a", body: "a"})))
	s := newStore(t, t.TempDir())
	var mu sync.Mutex
	last := map[string]Progress{}
	ctx := WithProgress(context.Background(), func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := last[p.Layer]; ok && prev.Finished {
			t.Errorf("layer %s reported after it finished: %+v", p.Layer, p)
		}
		last[p.Layer] = p
	})
	if _, err := s.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if len(last) != 2 {
		t.Fatalf("progress of %d layers, want 2: %+v", len(last), last)
	}
	for l, p := range last {
		if !p.Finished || p.Cached || p.Total <= 0 || p.Done != p.Total || p.Ref != ref {
			t.Errorf("layer %s ended as %+v, want finished, downloaded, %d of %d bytes, ref %s", l, p, p.Total, p.Total, ref)
		}
	}
	clear(last)
	if _, err := s.Pull(ctx, ref); err != nil {
		t.Fatal(err)
	}
	for l, p := range last {
		if !p.Cached || !p.Finished {
			t.Errorf("second pull: layer %s reported %+v, want cached", l, p)
		}
	}
	if len(last) != 2 {
		t.Errorf("second pull reported %d layers, want 2", len(last))
	}
}
