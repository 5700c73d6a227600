package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// pullJobs bounds how many layers of one image download at once.
const pullJobs = 3

// maxConfigSize bounds a config blob read into memory.
const maxConfigSize = 32 << 20

// platform is the only platform berth runs: linux on the architecture it was built for.
func platform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// Resolve returns the digest the registry currently serves for ref, with one HEAD
// request. It is what auto-update compares with Image.Digest.
func (s *Store) Resolve(ctx context.Context, ref string) (string, error) {
	r, err := s.parse(ref)
	if err != nil {
		return "", err
	}
	desc, err := s.puller.Head(ctx, r)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w", r.Name(), describe(err))
	}
	return desc.Digest.String(), nil
}

// Pull asks the registry what ref points to now (one HEAD), fetches only the
// manifests, config and layers that are not yet in the store, records ref -> digest
// and returns the image.
func (s *Store) Pull(ctx context.Context, ref string) (*Image, error) {
	r, err := s.parse(ref)
	if err != nil {
		return nil, err
	}
	img, err := s.pull(ctx, r)
	if err != nil {
		return nil, &PullError{Ref: r.Name(), Err: err}
	}
	return img, nil
}

// PullError is a failed Pull of Ref; it reads "pulling <ref>: <cause>", so
// callers that find one with errors.As need not name the image again.
type PullError struct {
	Ref string
	Err error
}

func (e *PullError) Error() string { return fmt.Sprintf("pulling %s: %v", e.Ref, e.Err) }
func (e *PullError) Unwrap() error { return e.Err }

func (s *Store) pull(ctx context.Context, r name.Reference) (*Image, error) {
	unlock, err := s.storeLock(ctx, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()

	head, err := s.puller.Head(ctx, r)
	if err != nil {
		return nil, describe(err)
	}
	raw, err := s.manifest(ctx, r, head.Digest)
	if err != nil {
		return nil, err
	}
	manifestDigest := head.Digest
	if isIndex(head.MediaType, raw) {
		child, err := choosePlatform(head.Digest, raw)
		if err != nil {
			return nil, err
		}
		if raw, err = s.manifest(ctx, r, child.Digest); err != nil {
			return nil, err
		}
		if isIndex(child.MediaType, raw) {
			return nil, fmt.Errorf("index %s points to another index %s for %s; nested indexes are not supported",
				head.Digest, child.Digest, platform())
		}
		manifestDigest = child.Digest
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", manifestDigest, err)
	}
	if m.MediaType != "" && !m.MediaType.IsImage() {
		return nil, fmt.Errorf("manifest %s has unsupported media type %s", manifestDigest, m.MediaType)
	}
	if err := s.fetchConfig(ctx, r, m.Config.Digest); err != nil {
		return nil, err
	}
	_, cfg, err := s.localManifest(manifestDigest.String())
	if err != nil {
		return nil, err
	}
	if err := s.fetchLayers(ctx, r, m.Layers, cfg.RootFS.DiffIDs); err != nil {
		return nil, err
	}
	rec := refRecord{Digest: head.Digest.String(), Manifest: manifestDigest.String()}
	if err := s.updateRefs(ctx, func(idx *refIndex) { idx.Refs[r.Name()] = rec }); err != nil {
		return nil, err
	}
	s.log.Info("image pulled", "ref", r.Name(), "digest", rec.Digest, "manifest", rec.Manifest)
	return s.load(r.Name(), rec)
}

// manifest returns the manifest or index with digest d, from the store when present,
// otherwise fetched by digest (not by tag, so a tag moving meanwhile cannot mix images).
func (s *Store) manifest(ctx context.Context, r name.Reference, d v1.Hash) ([]byte, error) {
	if b, err := s.readBlob(d.String()); err == nil {
		return b, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	desc, err := s.puller.Get(ctx, r.Context().Digest(d.String()))
	if err != nil {
		return nil, fmt.Errorf("fetching manifest %s: %w", d, describe(err))
	}
	if err := s.writeBlob(d.String(), desc.Manifest); err != nil {
		return nil, err
	}
	return desc.Manifest, nil
}

// fetchConfig stores the config blob d unless it is already present.
func (s *Store) fetchConfig(ctx context.Context, r name.Reference, d v1.Hash) error {
	if _, err := s.readBlob(d.String()); err == nil {
		return nil
	}
	l, err := s.puller.Layer(ctx, r.Context().Digest(d.String()))
	if err != nil {
		return fmt.Errorf("fetching config %s: %w", d, describe(err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("fetching config %s: %w", d, describe(err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxConfigSize))
	if err != nil {
		return fmt.Errorf("fetching config %s: %w", d, describe(err))
	}
	return s.writeBlob(d.String(), b)
}

// fetchLayers makes sure every layer is unpacked, a few at a time.
func (s *Store) fetchLayers(ctx context.Context, r name.Reference, layers []v1.Descriptor, diffIDs []v1.Hash) error {
	if len(layers) != len(diffIDs) {
		return fmt.Errorf("manifest has %d layers but config lists %d diffIDs", len(layers), len(diffIDs))
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, pullJobs)
	)
	for i := range layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := s.ensureLayer(ctx, r, layers[i], diffIDs[i]); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// isIndex tells an index from an image manifest by media type, or by its
// "manifests" field when the registry sent no media type.
func isIndex(mt types.MediaType, raw []byte) bool {
	if mt != "" {
		return mt.IsIndex()
	}
	var probe struct {
		Manifests json.RawMessage `json:"manifests"`
	}
	return json.Unmarshal(raw, &probe) == nil && probe.Manifests != nil
}

// choosePlatform picks the linux/GOARCH entry of an index.
func choosePlatform(d v1.Hash, raw []byte) (v1.Descriptor, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", d, err)
	}
	want := platform()
	for _, m := range idx.Manifests {
		if m.Platform != nil && m.Platform.OS == want.OS && m.Platform.Architecture == want.Architecture {
			return m, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("index %s has no image for %s", d, want)
}

// notFoundError says "manifest unknown" and matches ErrNotFound and the cause.
type notFoundError struct {
	msg string
	err error
}

func (e *notFoundError) Error() string   { return e.msg }
func (e *notFoundError) Unwrap() []error { return []error{ErrNotFound, e.err} }

// describe turns registry errors into plain words; a 404 (HEAD responses have no
// body to explain it) becomes "manifest unknown" and matches ErrNotFound.
func describe(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
			return &notFoundError{msg: "manifest unknown", err: err}
		case transport.BlobUnknownErrorCode:
			return &notFoundError{msg: "blob unknown", err: err}
		}
	}
	switch te.StatusCode {
	case http.StatusNotFound:
		return &notFoundError{msg: "manifest unknown", err: err}
	case http.StatusUnauthorized, http.StatusForbidden:
		host := "the registry"
		if te.Request != nil && te.Request.URL != nil {
			host = "registry " + te.Request.URL.Host
		}
		// Names where credentials come from (CredentialChain), never them.
		return fmt.Errorf("access denied by %s (check its credentials in berth's auth.json or docker's config.json): %w", host, err)
	}
	return err
}
