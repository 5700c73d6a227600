package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/runtime/paths"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Store is the on-disk image store. It is safe for concurrent use by goroutines
// and by several processes sharing the same root.
type Store struct {
	root   string
	log    *slog.Logger
	policy registryPolicy
	puller *remote.Puller // one reused client: auth and pings cached per repository
}

// refRecord is what refs.json remembers about one reference.
type refRecord struct {
	Digest   string `json:"digest"`   // what HEAD on the ref returned
	Manifest string `json:"manifest"` // the platform manifest used
}

type refIndex struct {
	Refs map[string]refRecord `json:"refs"`
}

// NewStore opens (creating it 0700 if needed) the store rooted at root.
func NewStore(root string, opts Options) (*Store, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store %s: %w", root, err)
	}
	for _, d := range []string{root, filepath.Join(root, "blobs", "sha256"), filepath.Join(root, "l"),
		filepath.Join(root, "locks"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating image store %s: %w", d, err)
		}
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating image store %s: %w", root, err)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	policy := newRegistryPolicy(opts.Insecure)
	transport := newPolicyTransport(policy)
	transport.onResponse = opts.OnResponse
	keychain := opts.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	puller, err := remote.NewPuller(
		remote.WithTransport(transport),
		remote.WithAuthFromKeychain(keychain),
		remote.WithPlatform(platform()),
		remote.WithUserAgent("berth"),
	)
	if err != nil {
		return nil, fmt.Errorf("creating registry client: %w", err)
	}
	return &Store{root: root, log: log, policy: policy, puller: puller}, nil
}

// parse normalises ref the way docker does (busybox -> index.docker.io/library/busybox:latest)
// and marks loopback or listed registries insecure.
func (s *Store) parse(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	if opts := s.policy.nameOptions(r.Context().RegistryStr()); len(opts) > 0 {
		if r, err = name.ParseReference(ref, opts...); err != nil {
			return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
		}
	}
	return r, nil
}

// Get returns the image recorded for ref without contacting any registry. The
// error wraps ErrNotFound when ref was never pulled or its data is gone.
func (s *Store) Get(ctx context.Context, ref string) (*Image, error) {
	r, err := s.parse(ref)
	if err != nil {
		return nil, err
	}
	idx, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	rec, ok := idx.Refs[r.Name()]
	if !ok {
		return nil, fmt.Errorf("image %s: %w", r.Name(), ErrNotFound)
	}
	img, err := s.load(r.Name(), rec)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", r.Name(), err)
	}
	return img, nil
}

// Ensure returns the local image for ref, pulling it only when it is absent.
func (s *Store) Ensure(ctx context.Context, ref string) (*Image, error) {
	img, err := s.Get(ctx, ref)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return img, err
	}
	return s.Pull(ctx, ref)
}

// load assembles an Image from local blobs and layer dirs.
func (s *Store) load(ref string, rec refRecord) (*Image, error) {
	m, cfg, err := s.localManifest(rec.Manifest)
	if err != nil {
		return nil, err
	}
	img := &Image{Ref: ref, Digest: rec.Digest, ManifestDigest: rec.Manifest, Config: cfg.Config}
	for i := range m.Layers {
		diffID := cfg.RootFS.DiffIDs[i]
		ok, err := s.layerPresent(diffID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("layer %s: %w", diffID, ErrNotFound)
		}
		img.Layers = append(img.Layers, s.layerDir(diffID))
	}
	return img, nil
}

// localManifest reads an image manifest and its config from the blob store.
func (s *Store) localManifest(digest string) (*v1.Manifest, *v1.ConfigFile, error) {
	raw, err := s.readBlob(digest)
	if err != nil {
		return nil, nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, nil, fmt.Errorf("parsing manifest %s: %w", digest, err)
	}
	rawCfg, err := s.readBlob(m.Config.Digest.String())
	if err != nil {
		return nil, nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, nil, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, nil, fmt.Errorf("manifest %s has %d layers but its config lists %d diffIDs",
			digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	return m, cfg, nil
}

func (s *Store) blobPath(digest string) (string, error) {
	h, err := v1.NewHash(digest)
	if err != nil || h.Algorithm != "sha256" {
		return "", fmt.Errorf("unsupported digest %q", digest)
	}
	return filepath.Join(s.root, "blobs", "sha256", h.Hex), nil
}

// readBlob returns a stored blob; a missing one wraps ErrNotFound.
func (s *Store) readBlob(digest string) ([]byte, error) {
	p, err := s.blobPath(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", digest, err)
	}
	return b, nil
}

// writeBlob verifies data against digest and stores it atomically.
func (s *Store) writeBlob(digest string, data []byte) error {
	p, err := s.blobPath(digest)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return fmt.Errorf("blob %s: content has digest %s", digest, got)
	}
	return s.writeFileAtomic(p, data)
}

// writeFileAtomic writes data with paths.WriteFile, so readers see the old
// or the new content, never a part. A temp file a crash leaves next to a
// blob or layer is swept by GC, which keeps only known names.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	return paths.WriteFile(path, data, 0o600)
}

func (s *Store) readRefs() (*refIndex, error) {
	idx := &refIndex{Refs: map[string]refRecord{}}
	b, err := os.ReadFile(filepath.Join(s.root, "refs.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading image index: %w", err)
	}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("parsing image index %s: %w", filepath.Join(s.root, "refs.json"), err)
	}
	if idx.Refs == nil {
		idx.Refs = map[string]refRecord{}
	}
	return idx, nil
}

// updateRefs applies change to refs.json under refs.lock and writes it atomically.
func (s *Store) updateRefs(ctx context.Context, change func(*refIndex)) error {
	unlock, err := paths.Lock(ctx, filepath.Join(s.root, "refs.lock"), paths.Exclusive)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readRefs()
	if err != nil {
		return err
	}
	change(idx)
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding image index: %w", err)
	}
	return s.writeFileAtomic(filepath.Join(s.root, "refs.json"), append(b, '\n'))
}

// storeLock takes the store-wide lock: shared for pulls, exclusive for removal.
func (s *Store) storeLock(ctx context.Context, how int) (func(), error) {
	return paths.Lock(ctx, filepath.Join(s.root, "lock"), paths.LockMode(how))
}
