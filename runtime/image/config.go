package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Config returns the runtime config of the image ref runs as: the one recorded for
// ref in the store (what a container started now would use), or, for an
// image never pulled, the one the registry serves for it now, fetched
// without its layers (one HEAD, the manifest and the config blob, which stay
// in the store so the later pull fetches them no more).
func (s *Store) Config(ctx context.Context, ref string) (*v1.Config, error) {
	b, err := s.configBlob(ctx, ref)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parsing the config of %s: %w", ref, err)
	}
	return &cfg.Config, nil
}

// Healthcheck is an image config's HEALTHCHECK as docker writes it;
// go-containerregistry's v1.HealthConfig lacks StartInterval.
type Healthcheck struct {
	Test          []string      `json:"Test"`
	Interval      time.Duration `json:"Interval"`
	Timeout       time.Duration `json:"Timeout"`
	StartPeriod   time.Duration `json:"StartPeriod"`
	StartInterval time.Duration `json:"StartInterval"`
	Retries       int           `json:"Retries"`
}

// Healthcheck returns the HEALTHCHECK of the image ref runs as (see Config);
// nil when the image declares none.
func (s *Store) Healthcheck(ctx context.Context, ref string) (*Healthcheck, error) {
	b, err := s.configBlob(ctx, ref)
	if err != nil {
		return nil, err
	}
	var cf struct {
		Config struct {
			Healthcheck *Healthcheck `json:"Healthcheck"`
		} `json:"config"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("parsing the config of %s: %w", ref, err)
	}
	return cf.Config.Healthcheck, nil
}

// configBlob is the raw config blob behind Config and Healthcheck.
func (s *Store) configBlob(ctx context.Context, ref string) ([]byte, error) {
	r, err := s.parse(ref)
	if err != nil {
		return nil, err
	}
	idx, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	if rec, ok := idx.Refs[r.Name()]; ok {
		b, err := s.localConfig(rec.Manifest)
		if err == nil {
			return b, nil
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
	return s.readBlob(m.Config.Digest.String())
}

// localConfig reads the config blob of the manifest with digest from the
// store.
func (s *Store) localConfig(digest string) ([]byte, error) {
	raw, err := s.readBlob(digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", digest, err)
	}
	return s.readBlob(m.Config.Digest.String())
}
