package autoupdate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/berth-dev/berth/runtime/paths"
)

// State is what auto-update remembers between runs, in one directory
// (<state dir>/autoupdate, 0700):
//
//	bad.json        image -> digests that were rolled back, never retried
//	rollback.json   service -> the image it ran before its last update
//	history.jsonl   one line per update, rollback or failure
//	run.lock        flock held by the one update run allowed at a time
type State struct {
	Dir string
}

// BadDigest is a digest that failed its soak and was rolled back.
type BadDigest struct {
	Digest string    `json:"digest"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// maxBadPerImage bounds bad.json: only the newest digests of a tag matter.
const maxBadPerImage = 10

// RollbackTarget is the image a service ran before its last update; the
// image store keeps it (Prune spares it) so a later rollback needs no registry.
type RollbackTarget struct {
	Image  string `json:"image"`
	Digest string `json:"digest"`
}

// Event is one line of the update history.
type Event struct {
	Time    time.Time `json:"time"`
	Unit    string    `json:"unit"`
	Project string    `json:"project"`
	Service string    `json:"service"`
	Image   string    `json:"image"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Result  Status    `json:"result"`
	Reason  string    `json:"reason,omitempty"`
}

func (s State) path(name string) string { return filepath.Join(s.Dir, name) }

func (s State) mkdir() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("creating auto-update state dir: %w", err)
	}
	return nil
}

// Lock takes the run lock, waiting while another update runs (a timer run
// and a manual one must not restart the same units at once).
func (s State) Lock(ctx context.Context) (unlock func(), err error) {
	if err := s.mkdir(); err != nil {
		return nil, err
	}
	unlock, err = paths.Lock(ctx, s.path("run.lock"), paths.Exclusive)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("waiting for another auto-update run: %w", ctx.Err())
	}
	return unlock, err
}

// Bad returns the digests recorded bad, by image.
func (s State) Bad(ctx context.Context) (map[string][]BadDigest, error) {
	m := map[string][]BadDigest{}
	return m, readJSON(s.path("bad.json"), &m)
}

// IsBad returns the record for digest of image, or nil.
func IsBad(bad map[string][]BadDigest, image, digest string) *BadDigest {
	for i, b := range bad[image] {
		if b.Digest == digest {
			return &bad[image][i]
		}
	}
	return nil
}

// MarkBad records digest of image as bad.
func (s State) MarkBad(ctx context.Context, image string, b BadDigest) error {
	bad, err := s.Bad(ctx)
	if err != nil {
		return err
	}
	list := slices.DeleteFunc(bad[image], func(o BadDigest) bool { return o.Digest == b.Digest })
	list = append(list, b)
	if len(list) > maxBadPerImage {
		list = list[len(list)-maxBadPerImage:]
	}
	bad[image] = list
	return s.writeJSON("bad.json", bad)
}

// RollbackTargets returns the rollback target of each service, by service ID.
func (s State) RollbackTargets(ctx context.Context) (map[string]RollbackTarget, error) {
	m := map[string]RollbackTarget{}
	return m, readJSON(s.path("rollback.json"), &m)
}

// SetRollbackTarget remembers what service id ran before its update.
func (s State) SetRollbackTarget(ctx context.Context, id string, t RollbackTarget) error {
	m, err := s.RollbackTargets(ctx)
	if err != nil {
		return err
	}
	m[id] = t
	return s.writeJSON("rollback.json", m)
}

// Record appends events to the history.
func (s State) Record(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path("history.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening update history: %w", err)
	}
	var buf []byte
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			f.Close()
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	_, err = f.Write(buf) // one write: concurrent appenders never interleave lines
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing update history: %w", err)
	}
	return nil
}

// History returns the last n events (all when n <= 0), oldest first.
func (s State) History(ctx context.Context, n int) ([]Event, error) {
	f, err := os.Open(s.path("history.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading update history: %w", err)
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return out, fmt.Errorf("%s:%d: %w", f.Name(), line, err)
		}
		out = append(out, e)
		if n > 0 && len(out) > n {
			out = out[1:]
		}
	}
	return out, sc.Err()
}

func (s State) writeJSON(name string, v any) error {
	if err := s.mkdir(); err != nil {
		return err
	}
	return writeJSON(s.path(name), v)
}

// readJSON decodes path into v; a missing file leaves v as it is.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path atomically, so a crash leaves the old or the new
// content, never a part.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return paths.WriteFile(path, append(b, '\n'), 0o600)
}
