package runtime

import (
	"fmt"
	"strings"
	"time"
)

// phases records how long each step of a start took, so the journal line
// "container started" shows where start latency goes.
type phases struct {
	last  time.Time
	steps []string
}

func newPhases() *phases { return &phases{last: time.Now()} }

func (p *phases) mark(name string) {
	now := time.Now()
	p.steps = append(p.steps, fmt.Sprintf("%s=%s", name, now.Sub(p.last).Round(100*time.Microsecond)))
	p.last = now
}

func (p *phases) String() string { return strings.Join(p.steps, " ") }
