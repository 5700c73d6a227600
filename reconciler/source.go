package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"

	"github.com/berth-dev/berth/compose"
)

// LoadFunc loads every entry of a config dir; compose.LoadDir is the
// default. Another loader (Kubernetes YAML) plugs in here.
type LoadFunc func(ctx context.Context, dir string) ([]model.Entry, error)

// FileError is one config entry that failed to load.
type FileError struct {
	Project string    `json:"project"`
	Path    string    `json:"path"`
	Error   string    `json:"error"`
	Since   time.Time `json:"since"`
	// LastGood says whether the entry's last-good desired state is used
	// instead; without one the entry's running units are kept as they are.
	LastGood bool `json:"last_good"`
}

// Source is the config dir as the agent sees it: a full snapshot per load,
// where an entry that fails to load is replaced by its last-good state.
// Last-good projects are persisted under the state dir, so they survive an
// agent restart and a reboot. A Source is used by one goroutine.
type Source struct {
	Dir      string
	StateDir string
	Load     LoadFunc
	Log      *slog.Logger

	fingerprint uint64
	entries     []model.Entry
	memo        *Memo // derived values of entries, renewed with them; nil before the first load
	errors      []FileError
	since       map[string]time.Time // first failure time per project
}

// Snapshot returns the desired entries and the per-file errors. The config
// dir is reloaded only when its fingerprint (names, sizes, mtimes of every
// file, hidden directories excluded) changed since the last call, or when
// force is set; changed tells whether it was.
func (s *Source) Snapshot(ctx context.Context, force bool) (entries []model.Entry, errs []FileError, changed bool, err error) {
	fp, err := fingerprint(s.Dir)
	if err != nil {
		return nil, nil, false, err
	}
	if !force && s.memo != nil && fp == s.fingerprint {
		return s.entries, s.errors, false, nil
	}
	load := s.Load
	if load == nil {
		load = func(ctx context.Context, dir string) ([]model.Entry, error) { return compose.LoadDir(ctx, dir) }
	}
	loaded, err := load(ctx, s.Dir)
	if err != nil {
		return nil, nil, false, err
	}
	if s.since == nil {
		s.since = map[string]time.Time{}
	}
	errs = []FileError{}
	present := map[string]bool{}
	for i := range loaded {
		e := &loaded[i]
		present[e.Name] = true
		if e.Err == nil {
			delete(s.since, e.Name)
			if err := s.saveLastGood(e.Project); err != nil {
				s.Log.Warn("saving last-good state failed", "project", e.Name, "err", err)
			}
			continue
		}
		if _, ok := s.since[e.Name]; !ok {
			s.since[e.Name] = time.Now()
		}
		fe := FileError{Project: e.Name, Path: e.Path, Error: e.Err.Error(), Since: s.since[e.Name]}
		if p, err := s.lastGood(e.Name); err == nil {
			// Keep the error visible in the plan, but apply the last-good
			// state: units keep running, and a reboot brings them back.
			fe.LastGood = true
			e.Project, e.Err = p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			s.Log.Warn("reading last-good state failed", "project", e.Name, "err", err)
		}
		s.Log.Error("config entry failed to load", "project", e.Name, "path", e.Path, "err", fe.Error, "last_good", fe.LastGood)
		errs = append(errs, fe)
	}
	s.forgetDeleted(present)
	s.fingerprint, s.entries, s.errors = fp, loaded, errs
	s.memo = &Memo{}
	return loaded, errs, true, nil
}

// Memo is the memo of the entries the last Snapshot returned: it is
// renewed with every reload, so it never outlives them.
func (s *Source) Memo() *Memo { return s.memo }

// lastGoodDir holds one JSON project per entry that last loaded cleanly.
func (s *Source) lastGoodDir() string {
	return filepath.Join(paths.New("", s.StateDir, "").Agent(), "last-good")
}

func (s *Source) lastGood(name string) (*model.Project, error) {
	path, err := model.Path(s.lastGoodDir(), name+".json")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p model.Project
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decoding last-good state of %s: %w", name, err)
	}
	return &p, nil
}

func (s *Source) saveLastGood(p *model.Project) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	path, err := model.Path(s.lastGoodDir(), p.Name+".json")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	if err := os.MkdirAll(s.lastGoodDir(), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// forgetDeleted drops the last-good state of entries whose files are gone:
// only a deleted file removes its services.
func (s *Source) forgetDeleted(present map[string]bool) {
	des, err := os.ReadDir(s.lastGoodDir())
	if err != nil {
		return
	}
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".json")
		if ok && !present[name] {
			_ = os.Remove(filepath.Join(s.lastGoodDir(), de.Name()))
		}
	}
	for name := range s.since {
		if !present[name] {
			delete(s.since, name)
		}
	}
}

// fingerprint hashes the name, size, mode and mtime of everything under dir,
// skipping hidden directories (.git): a changed file changes it, and a stat
// walk is far cheaper than loading every project. A symlinked project
// directory directly under dir is walked too (compose.LoadDir follows it),
// so editing a file inside it is noticed.
func fingerprint(dir string) (uint64, error) {
	h := fnv.New64a()
	if err := hashTree(h, dir, true); err != nil {
		return 0, fmt.Errorf("scanning config dir: %w", err)
	}
	return h.Sum64(), nil
}

// hashTree writes the stat of everything under root into h; top follows
// symlinked directories directly under root, one level only (no cycles).
func hashTree(h io.Writer, root string, top bool) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != root {
				return nil // removed while walking; the next walk sees it
			}
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if d.IsDir() {
			// Its entries are hashed one by one; its own mtime also
			// changes when a hidden entry (.git) does.
			fmt.Fprintf(h, "%s/\n", path)
			return nil
		}
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%d\n", path, fi.Size(), fi.Mode(), fi.ModTime().UnixNano())
		// A symlinked file's content can change without the link changing.
		if fi.Mode()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(path); err == nil {
				fmt.Fprintf(h, "->%d\x00%d\n", st.Size(), st.ModTime().UnixNano())
				if st.IsDir() && top && filepath.Dir(path) == root && !strings.HasPrefix(d.Name(), ".") {
					return hashTree(h, path+"/", false)
				}
			}
		}
		return nil
	})
}

// writeFileAtomic writes path with paths.WriteFile, private to root, so a
// crash leaves the old or the new content, never a torn file.
func writeFileAtomic(path string, b []byte) error { return paths.WriteFile(path, b, 0o600) }
