package autoupdate

import (
	"context"
	"log/slog"
	"time"
)

// PullImages is the image store as Puller uses it.
type PullImages interface {
	GuardImages
	// Pull fetches ref and returns the digest it resolved.
	Pull(ctx context.Context, ref string) (digest string, err error)
}

// Puller pulls an image ahead of a (re)start (the reconciler's Puller),
// unless the registry serves a digest auto-update rolled back
// (State.KeepGood), and records the digest in the lockfile, which `berth
// plan` compares with later checks.
type Puller struct {
	Images PullImages
	State  State
	// StateDir holds the lockfile.
	StateDir string
	Log      *slog.Logger
}

// Pull pulls ref or keeps its good digest. A pull error is returned; a
// lockfile that cannot be written is only logged, as the image is in place.
func (p Puller) Pull(ctx context.Context, ref string) error {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	digest, bad, kept := p.State.KeepGood(ctx, p.Images, log, ref)
	if !kept {
		d, err := p.Images.Pull(ctx, ref)
		if err != nil {
			return err
		}
		digest = d
	}
	if err := UpdateLockfile(ctx, p.StateDir, func(l *Lockfile) {
		now := time.Now().UTC()
		l.Resolved(ref, digest, "apply", now)
		if kept {
			l.Checked(ref, digest, bad, now)
		}
	}); err != nil {
		log.Warn("recording the pulled digest in the lockfile", "image", ref, "err", err)
	}
	return nil
}
