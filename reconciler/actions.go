package reconciler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-dev/berth/runtime/paths"
)

// Action log: the agent appends one JSON line per thing it does (reconcile,
// create, remove, repair, job run) to <state>/agent/actions.jsonl, which
// `berth events` follows next to systemd's own signals. The file is cut to
// its newer half when it passes actionLogMax.

// ActionEvent is one line of the action log.
type ActionEvent struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // reconcile, create, recreate, remove, repair, rollback, error, job
	Unit    string    `json:"unit,omitempty"`
	Message string    `json:"message"`
}

const actionLogMax = 1 << 20

// ActionLogPath is the action log of the agent using stateDir.
func ActionLogPath(stateDir string) string {
	return filepath.Join(paths.New("", stateDir, "").Agent(), "actions.jsonl")
}

// actionLog appends events; safe for concurrent use.
type actionLog struct {
	mu   sync.Mutex
	path string
}

func (l *actionLog) add(ev ActionEvent) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = os.MkdirAll(filepath.Dir(l.path), 0o700)
	if fi, err := os.Stat(l.path); err == nil && fi.Size() > actionLogMax {
		l.truncate()
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(b, '\n'))
}

// truncate keeps the newer half of the log, starting at a line boundary.
func (l *actionLog) truncate() {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return
	}
	half := b[len(b)/2:]
	for i, c := range half {
		if c == '\n' {
			half = half[i+1:]
			break
		}
	}
	_ = writeFileAtomic(l.path, half)
}
