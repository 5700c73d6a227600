package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/image"
)

// fakeImages records which store call a start made.
type fakeImages struct {
	calls []string
	have  bool
}

func (f *fakeImages) Get(ctx context.Context, ref string) (*image.Image, error) {
	f.calls = append(f.calls, "get")
	if !f.have {
		return nil, image.ErrNotFound
	}
	return &image.Image{Ref: ref}, nil
}

func (f *fakeImages) Pull(ctx context.Context, ref string) (*image.Image, error) {
	f.calls = append(f.calls, "pull")
	return &image.Image{Ref: ref}, nil
}

func (f *fakeImages) Ensure(ctx context.Context, ref string) (*image.Image, error) {
	f.calls = append(f.calls, "ensure")
	return &image.Image{Ref: ref}, nil
}

// TestEnsureByPolicy: pull_policy always pulls at every start, never only
// uses the store (and says so when the image is absent), missing pulls
// when absent.
func TestEnsureByPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy model.PullPolicy
		have   bool
		calls  string
		err    string
	}{
		{model.PullMissing, false, "ensure", ""},
		{model.PullAlways, true, "pull", ""},
		{model.PullNever, true, "get", ""},
		{model.PullNever, false, "get", "pull_policy is never"},
	} {
		f := &fakeImages{have: tc.have}
		_, err := ensureByPolicy(context.Background(), f, "registry.test/app:1", tc.policy)
		if got := strings.Join(f.calls, ","); got != tc.calls {
			t.Errorf("policy %q: calls %s, want %s", tc.policy, got, tc.calls)
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("policy %q: %v", tc.policy, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, image.ErrNotFound)):
			t.Errorf("policy %q: error %v, want one saying %q", tc.policy, err, tc.err)
		}
	}
}
