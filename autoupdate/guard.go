package autoupdate

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// GuardImages is the image store as the bad-digest guard uses it: the
// registry's digest for a tag, the store's own, and an offline re-tag.
type GuardImages interface {
	Resolver
	LocalResolver
	Tag(ctx context.Context, ref, digest string) error
}

// KeepGood runs before apply pulls ref. When the digest the registry serves
// for ref is one auto-update rolled back (Bad), pulling it would put the
// failed image back under the tag, and the next (re)start for any reason
// would run it. The store keeps the digest ref has instead (or gets the
// newest rollback target back), a warning says so, and kept is that digest;
// bad is the registry's. Without a bad digest for ref this costs no
// registry request.
func (s State) KeepGood(ctx context.Context, images GuardImages, log *slog.Logger, ref string) (kept, bad string, ok bool) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bads, err := s.Bad(ctx)
	if err != nil || len(bads[ref]) == 0 {
		return "", "", false
	}
	remote, err := images.Resolve(ctx, ref)
	if err != nil {
		return "", "", false // the pull reports it
	}
	b := IsBad(bads, ref, remote)
	if b == nil {
		return "", "", false
	}
	why := fmt.Sprintf("rolled back by auto-update at %s: %s", b.At.Local().Format(time.DateTime), b.Reason)
	if local, err := images.LocalDigest(ctx, ref); err == nil && local != remote {
		log.Warn("not pulling a digest recorded bad; keeping the current one", "image", ref, "bad", remote, "keeping", local, "why", why)
		return local, remote, true
	}
	rts, _ := s.RollbackTargets(ctx)
	for _, id := range slices.Sorted(maps.Keys(rts)) {
		rt := rts[id]
		if rt.Image != ref || rt.Digest == remote || IsBad(bads, ref, rt.Digest) != nil {
			continue
		}
		if err := images.Tag(ctx, ref, rt.Digest); err == nil {
			log.Warn("not pulling a digest recorded bad; using the rollback target", "image", ref, "bad", remote, "keeping", rt.Digest, "why", why)
			return rt.Digest, remote, true
		}
	}
	log.Warn("pulling a digest recorded bad: no other image of this tag is stored", "image", ref, "digest", remote, "why", why)
	return "", "", false
}
