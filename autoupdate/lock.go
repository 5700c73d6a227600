package autoupdate

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/berth-dev/berth/runtime/paths"
)

// LockfileName is the lockfile of resolved digests under the state dir.
const LockfileName = "images.lock.json"

// Lockfile records, for every image reference berth runs, the digest that
// was resolved when it was last applied or updated, and the newest digest an
// auto-update check saw for it. `berth plan` reads it to show pending updates
// without asking any registry.
type Lockfile struct {
	Images map[string]LockEntry `json:"images"`
}

// LockEntry is one image reference in the Lockfile.
type LockEntry struct {
	// Digest is what apply pulled or auto-update put in place.
	Digest   string    `json:"digest"`
	Resolved time.Time `json:"resolved"`
	// By is "apply" or "auto-update".
	By string `json:"by"`
	// Available is the digest the last check found for the reference when it
	// differs from Digest; Checked is when that check ran.
	Available string    `json:"available,omitempty"`
	Checked   time.Time `json:"checked,omitzero"`
}

// LockfilePath is the lockfile's path under stateDir.
func LockfilePath(stateDir string) string { return paths.New("", stateDir, "").ImagesLockfile() }

// ReadLockfile reads the lockfile under stateDir; a missing one is empty.
func ReadLockfile(ctx context.Context, stateDir string) (*Lockfile, error) {
	l := &Lockfile{Images: map[string]LockEntry{}}
	if err := readJSON(LockfilePath(stateDir), l); err != nil {
		return nil, err
	}
	if l.Images == nil {
		l.Images = map[string]LockEntry{}
	}
	return l, nil
}

// UpdateLockfile applies change to the lockfile under stateDir, holding an
// flock so that apply and auto-update never lose each other's entries.
func UpdateLockfile(ctx context.Context, stateDir string, change func(*Lockfile)) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("updating the lockfile: %w", err)
	}
	unlock, err := paths.Lock(ctx, LockfilePath(stateDir)+".lock", paths.Exclusive)
	if err != nil {
		return fmt.Errorf("locking the lockfile: %w", err)
	}
	defer unlock()
	l, err := ReadLockfile(ctx, stateDir)
	if err != nil {
		return err
	}
	change(l)
	return writeJSON(LockfilePath(stateDir), l)
}

// Resolved records that image now runs digest, set by "apply" or "auto-update".
func (l *Lockfile) Resolved(image, digest, by string, at time.Time) {
	e := l.Images[image]
	e.Digest, e.Resolved, e.By = digest, at, by
	if e.Available == digest {
		e.Available = ""
	}
	l.Images[image] = e
}

// Checked records what a check found for image: running is the digest the
// container runs (it becomes Digest for an image not recorded yet, e.g.
// applied before lockfiles existed), available the one its policy names.
func (l *Lockfile) Checked(image, running, available string, at time.Time) {
	e, ok := l.Images[image]
	if !ok {
		if running == "" {
			return
		}
		e = LockEntry{Digest: running, Resolved: at, By: "observed"}
	}
	e.Available, e.Checked = "", at
	if available != e.Digest {
		e.Available = available
	}
	l.Images[image] = e
}
