package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/autoupdate"
	"github.com/berth-dev/berth/reconciler"
)

// TestPlanShowsPendingUpdatesFromLockfile: plan lists what the lockfile's
// last check saw for services with a policy, says when a digest was rolled
// back and what a recreate keeps instead, also without a policy.
func TestPlanShowsPendingUpdatesFromLockfile(t *testing.T) {
	state := t.TempDir()
	ctx := context.Background()
	now := time.Now()
	err := autoupdate.UpdateLockfile(ctx, state, func(l *autoupdate.Lockfile) {
		l.Resolved("reg/app:1", "sha256:1111111111111111", "apply", now)
		l.Checked("reg/app:1", "sha256:1111111111111111", "sha256:2222222222222222", now)
		l.Resolved("reg/off:1", "sha256:1111111111111111", "apply", now)
		l.Checked("reg/off:1", "sha256:1111111111111111", "sha256:3333333333333333", now)
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := func(name, image, policy string) *model.Service {
		return &model.Service{Project: "p", Name: name, Image: image, AutoUpdate: policy}
	}
	p := &reconciler.Plan{Changes: []reconciler.Change{
		{Action: reconciler.Keep, Unit: "berth-p-a.service", Desired: svc("a", "reg/app:1", "registry")},
		{Action: reconciler.Keep, Unit: "berth-p-off.service", Desired: svc("off", "reg/off:1", "")},
	}}
	var b strings.Builder
	if err := printPendingUpdates(ctx, &b, state, p); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "update p/a (berth-p-a.service): reg/app:1 sha256:111111111111 → sha256:222222222222") {
		t.Errorf("output lacks the pending update:\n%s", out)
	}
	if strings.Contains(out, "p/off") {
		t.Errorf("a service without a policy is listed:\n%s", out)
	}

	// The newer digest was rolled back: a recreate keeps the applied one.
	st := autoupdate.State{Dir: filepath.Join(state, "autoupdate")}
	if err := st.MarkBad(ctx, "reg/app:1", autoupdate.BadDigest{Digest: "sha256:2222222222222222", Reason: "exited 1", At: now}); err != nil {
		t.Fatal(err)
	}
	p.Changes[0].Action = reconciler.Recreate
	b.Reset()
	if err := printPendingUpdates(ctx, &b, state, p); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "rolled back") || !strings.Contains(out, "this recreate keeps sha256:111111111111") {
		t.Errorf("plan:\n%s", out)
	}
	// Without a policy too: apply would pull the tag all the same.
	p.Changes[0].Desired.AutoUpdate = ""
	b.Reset()
	if err := printPendingUpdates(ctx, &b, state, p); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "= keep p/a") || !strings.Contains(out, "this recreate keeps sha256:111111111111") {
		t.Errorf("plan without a policy:\n%s", out)
	}
}
