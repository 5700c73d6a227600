package autoupdate

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/berth-dev/berth/compose/model"
)

// Resolver tells which digest the registry serves for an image reference now.
// The runtime's image store satisfies it with one HEAD request per call.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (digest string, err error)
}

// LocalResolver tells which digest the local image store records for an image
// reference, without contacting any registry. PolicyLocal needs it: Check uses
// it when the Resolver it is given implements it too.
type LocalResolver interface {
	LocalDigest(ctx context.Context, ref string) (digest string, err error)
}

// Target is one running service to check.
type Target struct {
	Unit    string
	Service *model.Service
	// RunningDigest is the digest the container was started from ("" when
	// unknown, e.g. the unit is not running).
	RunningDigest string
	// Err, when set, says why the target cannot be checked (e.g. its spec is
	// unreadable); it is reported as failed and blocks nothing else.
	Err error
}

// Status is the outcome of checking one service.
type Status string

// The outcomes of a check.
const (
	// StatusPending: the policy's source names a different digest; an update
	// would recreate the service.
	StatusPending Status = "pending"
	// StatusUnchanged: the container already runs the current digest.
	StatusUnchanged Status = "unchanged"
	// StatusPinned: the image is referenced by digest and never updated.
	StatusPinned Status = "pinned"
	// StatusDisabled: the service's policy is disabled (the default).
	StatusDisabled Status = "disabled"
	// StatusFailed: the check or the update failed; Err says why. After a
	// failed update the service may run the new image (rollback disabled) or
	// neither (the rollback failed too).
	StatusFailed Status = "failed"
	// StatusUpdated: the service was recreated on To and passed its soak.
	StatusUpdated Status = "updated"
	// StatusRolledBack: the service failed on To and runs From again; To is
	// recorded bad and not retried until the tag moves again.
	StatusRolledBack Status = "rolled-back"
	// StatusSkipped: an update is available but was not tried: To is
	// recorded bad, or a service sharing the image failed on it. Reason says which.
	StatusSkipped Status = "skipped"
)

// ErrUnknownDigest means the digest a service runs is unknown, so nothing can
// be compared; usually its unit is not running.
var ErrUnknownDigest = errors.New("digest of the running container is unknown (is the unit running?)")

// ErrNoLocalStore means a service asks for PolicyLocal but Check was given no
// LocalResolver.
var ErrNoLocalStore = errors.New("policy local needs the local image store, which is not available")

// Result is what Check found for one Target.
type Result struct {
	Unit    string
	Service *model.Service
	Image   string
	Policy  Policy
	// From is the running digest, To the digest the policy's source names.
	From, To string
	Status   Status
	// Err is set when Status is StatusFailed or StatusRolledBack: what went wrong.
	Err error
	// Reason explains a skip.
	Reason string
}

// lookup is one question asked of a resolver; targets sharing an image share
// its answer.
type lookup struct {
	policy Policy // PolicyRegistry or PolicyLocal
	image  string
}

type answer struct {
	digest string
	err    error
}

// Check compares every target's running digest with the digest its policy's
// source names now, asking r once per distinct image reference (and policy)
// with at most parallel questions in flight (parallel < 1 means 1). An error
// for one image fails only the targets using it; every target gets a Result,
// in the order given. Check changes nothing.
func Check(ctx context.Context, targets []Target, r Resolver, parallel int) []Result {
	results := make([]Result, len(targets))
	need := map[lookup]*answer{}
	var order []lookup // deterministic start order
	for i, t := range targets {
		res := &results[i]
		*res = Result{Unit: t.Unit, Service: t.Service, From: t.RunningDigest}
		if t.Service != nil {
			res.Image = t.Service.Image
		}
		switch {
		case t.Err != nil:
			res.Status, res.Err = StatusFailed, t.Err
			continue
		case t.Service == nil:
			res.Status, res.Err = StatusFailed, fmt.Errorf("unit %s: no service spec", t.Unit)
			continue
		}
		p, err := PolicyOf(t.Service)
		if err != nil {
			res.Status, res.Err = StatusFailed, err
			continue
		}
		res.Policy = p
		switch {
		case p == PolicyDisabled:
			res.Status = StatusDisabled
			continue
		case Pinned(res.Image):
			res.Status = StatusPinned
			continue
		case t.RunningDigest == "":
			res.Status, res.Err = StatusFailed, ErrUnknownDigest
			continue
		}
		k := lookup{policy: p, image: res.Image}
		if _, ok := need[k]; !ok {
			need[k] = &answer{}
			order = append(order, k)
		}
	}

	local, _ := r.(LocalResolver)
	if parallel < 1 {
		parallel = 1
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, k := range order {
		a := need[k]
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a.digest, a.err = ask(ctx, k, r, local)
		})
	}
	wg.Wait()

	for i := range results {
		res := &results[i]
		if res.Status != "" {
			continue
		}
		a := need[lookup{policy: res.Policy, image: res.Image}]
		switch {
		case a.err != nil:
			res.Status, res.Err = StatusFailed, a.err
		case a.digest == res.From:
			res.To, res.Status = a.digest, StatusUnchanged
		default:
			res.To, res.Status = a.digest, StatusPending
		}
	}
	return results
}

// ask puts one lookup to the resolver its policy names.
func ask(ctx context.Context, k lookup, r Resolver, local LocalResolver) (string, error) {
	if k.policy == PolicyLocal {
		if local == nil {
			return "", ErrNoLocalStore
		}
		d, err := local.LocalDigest(ctx, k.image)
		if err != nil {
			return "", fmt.Errorf("looking up %s in the local image store: %w", k.image, err)
		}
		return d, nil
	}
	if r == nil {
		return "", errors.New("no registry resolver")
	}
	d, err := r.Resolve(ctx, k.image)
	if err != nil {
		return "", fmt.Errorf("asking the registry: %w", err)
	}
	return d, nil
}

// Failed reports whether any result has StatusFailed or StatusRolledBack:
// something needs a person's attention, and the command exits non-zero.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Status == StatusFailed || r.Status == StatusRolledBack {
			return true
		}
	}
	return false
}
