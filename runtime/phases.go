package runtime

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// timings records how long each step of a start took, so the journal line
// "container started" shows where start latency goes.
type timings struct {
	last  time.Time
	steps []string
}

func newTimings() *timings { return &timings{last: time.Now()} }

func (p *timings) mark(name string) {
	now := time.Now()
	p.steps = append(p.steps, fmt.Sprintf("%s=%s", name, now.Sub(p.last).Round(100*time.Microsecond)))
	p.last = now
}

func (p *timings) String() string { return strings.Join(p.steps, " ") }

// phase is one named step of a start; one that makes something pushes its
// undo on the start's undoStack.
type phase struct {
	name string
	run  func() error
}

// runPhases runs ps in order, timing each in t. When one fails, the rest
// are skipped, u unwinds (what fails there is logged) and the phase's error
// is returned; when all succeed, u is dropped.
func runPhases(ps []phase, u *undoStack, t *timings, log *slog.Logger) error {
	for _, p := range ps {
		if err := p.run(); err != nil {
			if uerr := u.unwind(); uerr != nil {
				log.Error("cleaning up after failed start", "phase", p.name, "err", uerr)
			}
			return err
		}
		t.mark(p.name)
	}
	u.steps = nil
	return nil
}
