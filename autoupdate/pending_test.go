package autoupdate

import (
	"context"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

func svcWith(name, image, policy string) *model.Service {
	return &model.Service{Project: "p", Name: name, Image: image, AutoUpdate: policy}
}

// TestPendingUpdatesFromLockfile: a service with the registry policy whose
// tag the last check saw move is pending; one without a policy is not, nor
// is an image pinned by digest.
func TestPendingUpdatesFromLockfile(t *testing.T) {
	state := t.TempDir()
	ctx := context.Background()
	now := time.Now()
	err := UpdateLockfile(ctx, state, func(l *Lockfile) {
		l.Resolved("reg/app:1", "sha256:1111111111111111", "apply", now)
		l.Checked("reg/app:1", "sha256:1111111111111111", "sha256:2222222222222222", now)
		l.Resolved("reg/off:1", "sha256:1111111111111111", "apply", now)
		l.Checked("reg/off:1", "sha256:1111111111111111", "sha256:3333333333333333", now)
		l.Resolved("reg/pin@sha256:1", "sha256:1", "apply", now)
		l.Checked("reg/pin@sha256:1", "sha256:1", "sha256:4", now)
	})
	if err != nil {
		t.Fatal(err)
	}
	planned := []Planned{
		{Unit: "berth-p-a.service", Service: svcWith("a", "reg/app:1", "registry")},
		{Unit: "berth-p-off.service", Service: svcWith("off", "reg/off:1", ""), Starts: true},
		{Unit: "berth-p-pin.service", Service: svcWith("pin", "reg/pin@sha256:1", "registry")},
	}
	got, err := PendingUpdates(ctx, State{Dir: t.TempDir()}, state, planned)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Unit != "berth-p-a.service" || !got[0].Update || got[0].Bad != nil ||
		got[0].Lock.Digest != "sha256:1111111111111111" || got[0].Lock.Available != "sha256:2222222222222222" {
		t.Errorf("pending %+v; want only p/a from 1111 to 2222", got)
	}
}
