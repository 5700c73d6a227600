package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Config returns the config of the image ref runs as: the one recorded for
// ref in the store (what a container started now would use), or, for an
// image never pulled, the one the registry serves for it now, fetched
// without its layers (one HEAD, the manifest and the config blob, which stay
// in the store so the later pull fetches them no more).
func (s *Store) Config(ctx context.Context, ref string) (*v1.Config, error) {
	r, err := s.parse(ref)
	if err != nil {
		return nil, err
	}
	idx, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	if rec, ok := idx.Refs[r.Name()]; ok {
		_, cfg, err := s.localManifest(rec.Manifest)
		if err == nil {
			return &cfg.Config, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("image %s: %w", r.Name(), err)
		}
	}
	unlock, err := s.storeLock(ctx, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	head, err := s.puller.Head(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", r.Name(), describe(err))
	}
	raw, err := s.manifest(ctx, r, head.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", r.Name(), err)
	}
	if isIndex(head.MediaType, raw) {
		child, err := choosePlatform(head.Digest, raw)
		if err != nil {
			return nil, err
		}
		if raw, err = s.manifest(ctx, r, child.Digest); err != nil {
			return nil, fmt.Errorf("reading the config of %s: %w", r.Name(), err)
		}
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the manifest of %s: %w", r.Name(), err)
	}
	if err := s.fetchConfig(ctx, r, m.Config.Digest); err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", r.Name(), err)
	}
	b, err := s.readBlob(m.Config.Digest.String())
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	return &cfg.Config, nil
}
