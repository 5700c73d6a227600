package reconciler

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch reports changes under dir, recursively (project directories and
// their config files), on the returned channel: one value per burst of
// changes, sent once nothing changed for quiet, or at the latest maxDelay
// after the burst began. A `git pull` touching ten files thus gives one
// value. Hidden directories (.git) are not watched. The channel is closed
// when ctx ends. Events may still be missed (inotify queue overflow, a
// directory created and filled before its watch exists); the agent's
// periodic re-list repairs that.
func Watch(ctx context.Context, dir string, quiet, maxDelay time.Duration, log *slog.Logger) (<-chan struct{}, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	if err := addTree(w, dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching %s: %w", dir, err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer w.Close()
		var (
			timer    *time.Timer
			timerC   <-chan time.Time
			burstEnd time.Time
		)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() && !hidden(rel(dir, ev.Name)+"/x") {
						if err := addTree(w, ev.Name); err != nil {
							log.Warn("watching new directory failed", "dir", ev.Name, "err", err)
						}
					}
				}
				if hidden(rel(dir, ev.Name)) {
					continue
				}
				now := time.Now()
				if timer == nil {
					burstEnd = now.Add(maxDelay)
					timer = time.NewTimer(quiet)
					timerC = timer.C
					continue
				}
				wait := quiet
				if until := burstEnd.Sub(now); until < wait {
					wait = max(until, 0)
				}
				timer.Reset(wait)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// Overflow and the like: report a change, so the
				// consumer re-lists.
				log.Warn("config dir watch error; re-listing", "err", err)
				select {
				case out <- struct{}{}:
				default:
				}
			case <-timerC:
				timer, timerC = nil, nil
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, nil
}

// addTree watches root and every non-hidden directory below it.
func addTree(w *fsnotify.Watcher, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}

func rel(dir, path string) string {
	r, err := filepath.Rel(dir, path)
	if err != nil {
		return path
	}
	return r
}

// hidden reports whether any directory part of a relative path is hidden;
// hidden files (.env) themselves count as config.
func hidden(relPath string) bool {
	parts := strings.Split(filepath.ToSlash(relPath), "/")
	for _, p := range parts[:len(parts)-1] {
		if strings.HasPrefix(p, ".") && p != "." && p != ".." {
			return true
		}
	}
	return false
}
