package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Remove forgets ref and deletes the blobs and layers no other recorded ref uses.
// The error wraps ErrNotFound when ref is not recorded.
func (s *Store) Remove(ctx context.Context, ref string) error {
	r, err := s.parse(ref)
	if err != nil {
		return err
	}
	unlock, err := s.storeLock(ctx, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	found := false
	if err := s.updateRefs(ctx, func(idx *refIndex) {
		_, found = idx.Refs[r.Name()]
		delete(idx.Refs, r.Name())
	}); err != nil {
		return fmt.Errorf("removing %s: %w", r.Name(), err)
	}
	if !found {
		return fmt.Errorf("removing %s: %w", r.Name(), ErrNotFound)
	}
	if err := s.collect(); err != nil {
		return fmt.Errorf("removing %s: %w", r.Name(), err)
	}
	return nil
}

// Prune forgets every ref not in keep and deletes the blobs, layers and leftover
// temp files that the kept refs do not use. It waits for running pulls to finish.
// Layers still mounted by a container of a forgotten ref would disappear under it,
// so keep must list every image in use.
func (s *Store) Prune(ctx context.Context, keep []string) error {
	keepSet := map[string]bool{}
	for _, k := range keep {
		r, err := s.parse(k)
		if err != nil {
			return fmt.Errorf("pruning images: %w", err)
		}
		keepSet[r.Name()] = true
	}
	unlock, err := s.storeLock(ctx, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.updateRefs(ctx, func(idx *refIndex) {
		for ref := range idx.Refs {
			if !keepSet[ref] {
				delete(idx.Refs, ref)
				s.log.Info("image ref pruned", "ref", ref)
			}
		}
	}); err != nil {
		return fmt.Errorf("pruning images: %w", err)
	}
	if err := s.collect(); err != nil {
		return fmt.Errorf("pruning images: %w", err)
	}
	return nil
}

// collect deletes what no recorded ref reaches. The caller holds the store lock
// exclusively, so no pull is writing meanwhile and tmp/ holds only leftovers.
func (s *Store) collect() error {
	idx, err := s.readRefs()
	if err != nil {
		return err
	}
	blobs := map[string]bool{}
	layers := map[string]bool{}
	for ref, rec := range idx.Refs {
		blobs[strings.TrimPrefix(rec.Digest, "sha256:")] = true
		blobs[strings.TrimPrefix(rec.Manifest, "sha256:")] = true
		m, cfg, err := s.localManifest(rec.Manifest)
		if err != nil {
			// Without its manifest we cannot tell what it uses; keep everything.
			return fmt.Errorf("reading image %s: %w", ref, err)
		}
		blobs[m.Config.Digest.Hex] = true
		for _, d := range cfg.RootFS.DiffIDs {
			layers[shortID(d)] = true
		}
	}
	var errs []error
	remove := func(p string) {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		} else {
			s.log.Debug("image data pruned", "path", p)
		}
	}
	sweep := func(dir string, keep func(name string) bool) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, e := range ents {
			if !keep(e.Name()) {
				remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	sweep(filepath.Join(s.root, "blobs", "sha256"), func(n string) bool { return blobs[n] })
	sweep(filepath.Join(s.root, "l"), func(n string) bool { return layers[strings.TrimSuffix(n, ".id")] })
	sweep(filepath.Join(s.root, "locks"), func(n string) bool { return layers[n] })
	sweep(filepath.Join(s.root, "tmp"), func(string) bool { return false })
	if len(errs) > 0 {
		return fmt.Errorf("deleting unused image data: %w", errors.Join(errs...))
	}
	return nil
}
