package image

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Tag points ref at the image with digest (what HEAD on a tag returned: an
// index digest for a multi-arch image) that the store already holds, without
// contacting any registry; the next container started from ref runs it.
// ref may be a tag or a digest reference (repo@sha256:…): auto-update records
// the image a container runs under its digest reference so that a Prune
// keeping it keeps the rollback target, and rolls back by tagging it again.
// The error wraps ErrNotFound when the image's data is not in the store.
func (s *Store) Tag(ctx context.Context, ref, digest string) error {
	r, err := s.parse(ref)
	if err != nil {
		return err
	}
	unlock, err := s.storeLock(ctx, unix.LOCK_SH) // no prune deletes it meanwhile
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := s.recordFor(digest)
	if err != nil {
		return fmt.Errorf("tagging %s as %s: %w", digest, r.Name(), err)
	}
	if _, err := s.load(r.Name(), rec); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", digest, r.Name(), err)
	}
	if err := s.updateRefs(ctx, func(idx *refIndex) { idx.Refs[r.Name()] = rec }); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", digest, r.Name(), err)
	}
	s.log.Info("image tagged", "ref", r.Name(), "digest", rec.Digest, "manifest", rec.Manifest)
	return nil
}

// recordFor finds the platform manifest behind digest from local blobs: the
// digest itself for an image manifest, this platform's entry for an index.
func (s *Store) recordFor(digest string) (refRecord, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return refRecord{}, fmt.Errorf("parsing digest %q: %w", digest, err)
	}
	raw, err := s.readBlob(h.String())
	if err != nil {
		return refRecord{}, err
	}
	rec := refRecord{Digest: h.String(), Manifest: h.String()}
	if isIndex("", raw) {
		child, err := choosePlatform(h, raw)
		if err != nil {
			return refRecord{}, err
		}
		rec.Manifest = child.Digest.String()
	}
	return rec, nil
}
