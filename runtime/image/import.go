package image

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// ImportArchive adds the image in a docker-archive tarball (what `buildah
// build -t docker-archive:PATH` writes; docker's config format keeps the
// HEALTHCHECK that OCI's drops) to the store: its manifest and config as
// blobs, its layers unpacked, and every ref pointing at it by its manifest
// digest, as if pulled. A failed import leaves the refs as they were.
func (s *Store) ImportArchive(ctx context.Context, path string, refs ...string) (*Image, error) {
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return nil, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	unlock, err := s.storeLock(ctx, unix.LOCK_SH) // no prune deletes blobs meanwhile
	if err != nil {
		return nil, err
	}
	defer unlock()
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	if err := s.writeBlob(cfgName.String(), rawConfig); err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading image archive %s: %w", path, err)
	}
	for _, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("reading image archive %s: %w", path, err)
		}
		if _, err := s.installLayer(ctx, diffID, diffID.String(), func() (io.ReadCloser, func(), error) {
			rc, err := l.Uncompressed()
			return rc, nil, err
		}); err != nil {
			return nil, err
		}
	}
	// The manifest last: a manifest blob in the store means its parts are.
	if err := s.writeBlob(digest.String(), rawManifest); err != nil {
		return nil, err
	}
	rec := refRecord{Digest: digest.String(), Manifest: digest.String()}
	var names []string
	for _, ref := range refs {
		r, err := s.parse(ref)
		if err != nil {
			return nil, err
		}
		names = append(names, r.Name())
	}
	if err := s.updateRefs(ctx, func(idx *refIndex) {
		for _, n := range names {
			idx.Refs[n] = rec
		}
	}); err != nil {
		return nil, err
	}
	s.log.Info("image imported", "refs", names, "digest", rec.Digest)
	if len(names) == 0 {
		return s.load("", rec)
	}
	return s.load(names[0], rec)
}

// Insecure reports whether registry (host or host:port) may be used over
// plain HTTP: loopback registries and those the settings list.
func (s *Store) Insecure(registry string) bool { return s.policy.insecure(registry) }
