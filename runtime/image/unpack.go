package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/runtime/paths"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/go-archive"
)

// shortIDLen is how many hex digits of the diffID name a layer dir. Short names
// keep the overlay lowerdir option within one page; the full diffID stored next to
// the dir catches the (2^-48) chance of two layers sharing a prefix.
const shortIDLen = 12

func shortID(diffID v1.Hash) string { return diffID.Hex[:shortIDLen] }

// layerDir is the unpacked directory of the layer with diffID.
func (s *Store) layerDir(diffID v1.Hash) string {
	return filepath.Join(s.root, "l", shortID(diffID))
}

// layerPresent reports whether the layer is fully unpacked. A dir only appears by
// rename after a complete, verified unpack, and its .id file is written before that.
func (s *Store) layerPresent(diffID v1.Hash) (bool, error) {
	if len(diffID.Hex) < shortIDLen {
		return false, fmt.Errorf("invalid diffID %q", diffID)
	}
	dir := s.layerDir(diffID)
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking layer %s: %w", diffID, err)
	}
	id, err := os.ReadFile(dir + ".id")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("checking layer %s: %w", diffID, err)
	}
	if got := strings.TrimSpace(string(id)); got != diffID.String() || !fi.IsDir() {
		if err == nil && got != diffID.String() {
			return false, fmt.Errorf("layer dir %s belongs to %s, not %s", dir, got, diffID)
		}
		return false, nil
	}
	return true, nil
}

// ensureLayer downloads and unpacks one layer unless it is already present. A
// per-layer flock makes concurrent pulls of the same layer wait for each other
// instead of downloading twice.
func (s *Store) ensureLayer(ctx context.Context, r name.Reference, desc v1.Descriptor, diffID v1.Hash) error {
	done, err := s.installLayer(ctx, diffID, desc.Digest.String(), func() (io.ReadCloser, func(), error) {
		l, err := s.puller.Layer(ctx, r.Context().Digest(desc.Digest.String()))
		if err != nil {
			return nil, nil, fmt.Errorf("fetching layer %s: %w", desc.Digest, describe(err))
		}
		rc, finish, err := uncompressedWithProgress(ctx, r.Name(), l, desc)
		if err != nil {
			return nil, nil, fmt.Errorf("fetching layer %s: %w", desc.Digest, describe(err))
		}
		return rc, finish, nil
	})
	if done {
		reportCached(ctx, r.Name(), desc)
	}
	return err
}

// installLayer unpacks the layer with diffID from the stream open returns,
// unless it is already present (present reports that). A per-layer flock
// makes concurrent installs of the same layer wait for each other instead of
// unpacking twice; label names the layer in errors.
func (s *Store) installLayer(ctx context.Context, diffID v1.Hash, label string, open func() (io.ReadCloser, func(), error)) (present bool, err error) {
	if ok, err := s.layerPresent(diffID); ok || err != nil {
		return ok, err
	}
	unlock, err := paths.Lock(ctx, filepath.Join(s.root, "locks", shortID(diffID)), paths.Exclusive)
	if err != nil {
		return false, err
	}
	defer unlock()
	if ok, err := s.layerPresent(diffID); ok || err != nil {
		return ok, err // another process finished it while we waited
	}
	dir := s.layerDir(diffID)
	if err := os.RemoveAll(dir); err != nil { // a dir without a valid .id was never completed
		return false, fmt.Errorf("removing incomplete layer %s: %w", dir, err)
	}
	rc, finish, err := open()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	if finish != nil {
		defer finish()
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "l-")
	if err != nil {
		return false, fmt.Errorf("unpacking layer %s: %w", label, err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	if err := unpack(rc, tmp, diffID); err != nil {
		return false, fmt.Errorf("unpacking layer %s: %w", label, describe(err))
	}
	if err := s.writeFileAtomic(dir+".id", []byte(diffID.String()+"\n")); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return false, fmt.Errorf("installing layer %s: %w", diffID, err)
	}
	s.log.Debug("layer unpacked", "diffID", diffID.String(), "dir", dir, "blob", label)
	return false, nil
}

// unpack extracts an uncompressed layer tar into dir with moby/go-archive,
// converting OCI whiteouts into overlayfs ones (.wh.x -> char 0/0 device x,
// .wh..wh..opq -> trusted.overlay.opaque=y), and checks the tar against diffID.
func unpack(layer io.Reader, dir string, diffID v1.Hash) error {
	h := sha256.New()
	tee := io.TeeReader(layer, h)
	if err := archive.UntarUncompressed(tee, dir, &archive.TarOptions{
		WhiteoutFormat: archive.OverlayWhiteoutFormat,
	}); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil { // tar padding after the end marker
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != diffID.Hex {
		return fmt.Errorf("content has diffID sha256:%s, config says %s", got, diffID)
	}
	// The layer root is the overlay's lower root; MkdirTemp made it 0700.
	return os.Chmod(dir, 0o755)
}
