package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/image"
	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sys/unix"
)

// applyView shows what `berth apply` does while it does it. Its methods
// are called from several goroutines.
type applyView interface {
	pull(p image.Progress)               // a layer's download progress
	pulled(ref string, err error)        // an image's pull ended
	starting(c reconciler.Change)        // an action begins
	done(c reconciler.Change, err error) // an action ended
	print(func(w io.Writer))             // other output (the plan), in order
	close()                              // everything ended: final output
}

// isTerminal reports whether f is a terminal (TIOCGWINSZ answers only
// on one).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil
}

// newApplyView returns the live view (pull progress bars per layer, a line
// per unit) when out is a terminal, and plain lines otherwise: one per
// action taken, in the exact form scripts and tests parse. TERM=dumb gets
// the plain lines too.
func newApplyView(out io.Writer) applyView {
	if f, ok := out.(*os.File); ok && os.Getenv("TERM") != "dumb" {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			v := newTTYView(out, int(ws.Col))
			v.run(100 * time.Millisecond)
			return v
		}
	}
	return plainView{out}
}

// rolledBack is err's rollback when the previous container runs again.
func rolledBack(err error) *reconciler.RollbackError {
	var rb *reconciler.RollbackError
	if errors.Is(err, reconciler.ErrRolledBack) && errors.As(err, &rb) {
		return rb
	}
	return nil
}

// plainView prints one line per finished action and nothing else.
type plainView struct{ w io.Writer }

func (plainView) pull(image.Progress)        {}
func (plainView) pulled(string, error)       {}
func (plainView) starting(reconciler.Change) {}
func (plainView) close()                     {}
func (v plainView) print(f func(io.Writer))  { f(v.w) }
func (v plainView) done(c reconciler.Change, err error) {
	if rb := rolledBack(err); rb != nil {
		fmt.Fprintf(v.w, "%s/%s: rolled back (%s) to spec %s: %v\n", c.Project, c.Service, c.Unit, rb.Restored, rb.Cause)
		return
	}
	if err != nil {
		fmt.Fprintf(v.w, "%s/%s: %s failed: %v\n", c.Project, c.Service, c.Action, err)
		return
	}
	fmt.Fprintf(v.w, "%s/%s: %s (%s)\n", c.Project, c.Service, pastTense(c.Action), c.Unit)
}

// ttyView redraws a live region at the bottom of the terminal: a progress
// bar per layer being downloaded and a line per unit being acted on.
// Whatever finishes (an image pulled, a unit created) moves above it as a
// permanent line, so the scrollback reads as the plain output does.
type ttyView struct {
	mu     sync.Mutex
	w      io.Writer
	width  int
	now    func() time.Time
	layers []*layerRow // downloads in progress, first seen first
	units  []*unitRow  // actions in progress, started first first
	out    []string    // finished lines not yet printed
	drawn  int         // lines of the live region on the screen
	closed bool
	stop   chan struct{}
	ticker sync.WaitGroup
}

type layerRow struct {
	ref, layer  string
	done, total int64
	cached      bool
	finished    bool
}

type unitRow struct {
	c     reconciler.Change
	since time.Time
}

func newTTYView(w io.Writer, width int) *ttyView {
	if width < 20 {
		width = 80
	}
	return &ttyView{w: w, width: width, now: time.Now}
}

// run redraws every interval until close.
func (v *ttyView) run(interval time.Duration) {
	v.stop = make(chan struct{})
	v.ticker.Add(1)
	go func() {
		defer v.ticker.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-v.stop:
				return
			case <-t.C:
				v.draw()
			}
		}
	}()
}

func (v *ttyView) pull(p image.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, l := range v.layers {
		if l.ref == p.Ref && l.layer == p.Layer {
			l.done, l.total, l.cached, l.finished = p.Done, p.Total, p.Cached, p.Finished
			return
		}
	}
	v.layers = append(v.layers, &layerRow{ref: p.Ref, layer: p.Layer, done: p.Done, total: p.Total, cached: p.Cached, finished: p.Finished})
}

func (v *ttyView) pulled(ref string, err error) {
	norm := ref
	if r, perr := name.ParseReference(ref); perr == nil {
		norm = r.Name()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var n, cached int
	var bytes int64
	kept := v.layers[:0]
	for _, l := range v.layers {
		if l.ref != norm {
			kept = append(kept, l)
			continue
		}
		n++
		if l.cached {
			cached++
		} else {
			bytes += l.total
		}
	}
	v.layers = kept
	if err != nil {
		v.out = append(v.out, fmt.Sprintf("✘ pull %s failed: %v", ref, err))
		return
	}
	v.out = append(v.out, fmt.Sprintf("✔ pulled %s (%d layers, %d cached, %s)", shortRef(norm), n, cached, humanBytes(bytes)))
}

func (v *ttyView) starting(c reconciler.Change) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.units = append(v.units, &unitRow{c: c, since: v.now()})
}

func (v *ttyView) done(c reconciler.Change, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	took := time.Duration(0)
	for i, u := range v.units {
		if u.c.Unit == c.Unit {
			took = v.now().Sub(u.since)
			v.units = append(v.units[:i], v.units[i+1:]...)
			break
		}
	}
	if rb := rolledBack(err); rb != nil {
		v.out = append(v.out, fmt.Sprintf("↺ %s/%s: rolled back (%s) to spec %s: %v", c.Project, c.Service, c.Unit, rb.Restored, rb.Cause))
		return
	}
	if err != nil {
		v.out = append(v.out, fmt.Sprintf("✘ %s/%s: %s failed: %v", c.Project, c.Service, c.Action, err))
		return
	}
	v.out = append(v.out, fmt.Sprintf("✔ %s/%s: %s (%s) %s", c.Project, c.Service, pastTense(c.Action), c.Unit, seconds(took)))
}

// print adds output made elsewhere (the plan) as finished lines.
func (v *ttyView) print(f func(io.Writer)) {
	var b strings.Builder
	f(&b)
	v.mu.Lock()
	v.out = append(v.out, strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")...)
	v.mu.Unlock()
	v.draw()
}

// Write takes log output: each line scrolls above the live region (after
// close, it goes straight to the terminal).
func (v *ttyView) Write(p []byte) (int, error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return v.w.Write(p)
	}
	v.out = append(v.out, strings.Split(strings.TrimSuffix(string(p), "\n"), "\n")...)
	v.mu.Unlock()
	return len(p), nil
}

func (v *ttyView) close() {
	if v.stop != nil {
		close(v.stop)
		v.ticker.Wait()
		v.stop = nil
	}
	v.draw()
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
}

// draw moves the cursor to the top of the live region, prints the lines
// finished since the last draw, then the live region, and clears what is
// left below. Live lines are cut to the width, so none wraps and the
// cursor arithmetic stays right.
func (v *ttyView) draw() {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	for _, l := range v.out {
		b.WriteString("\r\x1b[2K" + l + "\n")
	}
	v.out = v.out[:0]
	live := v.live()
	for _, l := range live {
		b.WriteString("\r\x1b[2K" + fit(l, v.width-1) + "\n")
	}
	b.WriteString("\x1b[J")
	v.drawn = len(live)
	_, _ = io.WriteString(v.w, b.String())
}

// live renders the live region: a bar per layer still downloading (cached
// layers need none), then a line per action in progress.
func (v *ttyView) live() []string {
	var lines []string
	for _, l := range v.layers {
		if l.cached || l.finished {
			continue
		}
		lines = append(lines, fmt.Sprintf("⇣ %s %s %s %s / %s", shortRef(l.ref), shortLayer(l.layer),
			bar(l.done, l.total, 20), humanBytes(l.done), humanBytes(l.total)))
	}
	for _, u := range v.units {
		lines = append(lines, fmt.Sprintf("… %s/%s: %s %s", u.c.Project, u.c.Service, ingForm(u.c.Action), seconds(v.now().Sub(u.since))))
	}
	return lines
}

// bar is a progress bar of width cells, e.g. [=========>          ] 45%.
func bar(done, total int64, width int) string {
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	full := int(frac * float64(width))
	s := strings.Repeat("=", full)
	if full < width {
		s += ">" + strings.Repeat(" ", width-full-1)
	}
	return fmt.Sprintf("[%s] %3d%%", s, int(frac*100))
}

func fit(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	if width < 1 {
		return ""
	}
	return string(r[:width-1]) + "…"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// shortRef drops the registry host: the repository and tag are what the
// user wrote.
func shortRef(ref string) string {
	if i := strings.Index(ref, "/"); i > 0 && strings.ContainsAny(ref[:i], ".:") {
		return ref[i+1:]
	}
	return ref
}

func shortLayer(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

func ingForm(a reconciler.Action) string {
	switch a {
	case reconciler.Create:
		return "creating"
	case reconciler.Recreate:
		return "recreating"
	case reconciler.Remove:
		return "removing"
	}
	return string(a)
}

// viewPuller tells the view when each image's pull ends.
type viewPuller struct {
	p reconciler.Puller
	v applyView
}

func (p viewPuller) Pull(ctx context.Context, ref string) error {
	err := p.p.Pull(ctx, ref)
	p.v.pulled(ref, err)
	return err
}
