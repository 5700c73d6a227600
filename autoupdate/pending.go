package autoupdate

import (
	"context"

	"github.com/berth-dev/berth/compose/model"
)

// Planned is a service a plan keeps, creates or recreates.
type Planned struct {
	Unit    string
	Service *model.Service
	// Starts is set when the plan creates or recreates the service: apply
	// then pulls its tag.
	Starts bool
}

// Pending is an image update PendingUpdates found for a Planned service.
type Pending struct {
	Planned
	// Lock is the image's lockfile entry: Digest applied, Available seen
	// by the last check at Checked.
	Lock LockEntry
	// Update is set when auto-update applies Available (policy registry, a
	// tag). Otherwise the service is listed only because Available is
	// recorded bad and the plan starts it: apply keeps Lock.Digest.
	Update bool
	// Bad is set when Available was rolled back; auto-update skips it
	// until the tag moves.
	Bad *BadDigest
}

// PendingUpdates lists the planned services whose image has a newer digest
// in its registry than the one applied, as the last auto-update check
// recorded in the lockfile under stateDir; no registry is asked. A service
// without the registry policy is listed only when the plan starts it on a
// tag whose newer digest st records bad, since apply keeps the old one.
// Images pinned by digest never are.
func PendingUpdates(ctx context.Context, st State, stateDir string, planned []Planned) ([]Pending, error) {
	lock, err := ReadLockfile(ctx, stateDir)
	if err != nil {
		return nil, err
	}
	bad, err := st.Bad(ctx)
	if err != nil {
		return nil, err
	}
	var out []Pending
	for _, p := range planned {
		svc := p.Service
		if svc == nil || Pinned(svc.Image) {
			continue
		}
		e, ok := lock.Images[svc.Image]
		if !ok || e.Available == "" {
			continue
		}
		b := IsBad(bad, svc.Image, e.Available)
		policy, err := PolicyOf(svc)
		updates := err == nil && policy == PolicyRegistry
		if !updates && (b == nil || !p.Starts) {
			continue
		}
		out = append(out, Pending{Planned: p, Lock: e, Update: updates, Bad: b})
	}
	return out, nil
}
