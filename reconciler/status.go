package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/runtime/paths"
)

// Status is what the agent reports about itself; `berth status` prints it.
// It is written atomically to <state>/agent/status.json after every
// reconcile, so it is readable without talking to the agent.
type Status struct {
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	ConfigDir string    `json:"config_dir"`
	// Interval is the re-list period.
	Interval   Duration         `json:"interval"`
	Reconciles int              `json:"reconciles"`
	Last       *ReconcileRecord `json:"last_reconcile,omitempty"`
	// LastChange is the last reconcile that acted.
	LastChange *ReconcileRecord `json:"last_change,omitempty"`
	FileErrors []FileError      `json:"file_errors"`
	Repairs    []Repair         `json:"repairs"`
	Backoff    []Backoff        `json:"backoff"`
	Stopped    []Intent         `json:"stopped_by_user"`
	Jobs       []JobStatus      `json:"jobs"`
}

// ReconcileRecord describes one reconcile pass.
type ReconcileRecord struct {
	Start    time.Time `json:"start"`
	Duration Duration  `json:"duration"`
	// Trigger is start, config, relist or unit.
	Trigger string `json:"trigger"`
	// Reloaded says whether the config dir was loaded again (it is not
	// when nothing under it changed).
	Reloaded bool     `json:"reloaded"`
	Services int      `json:"services"`
	Changes  int      `json:"changes"`
	Writes   int64    `json:"dbus_writes"`
	Errors   []string `json:"errors,omitempty"`
}

// Repair is one drift repair the agent made.
type Repair struct {
	Time    time.Time `json:"time"`
	Unit    string    `json:"unit"`
	What    string    `json:"what"`
	Attempt int       `json:"attempt"`
	Error   string    `json:"error,omitempty"`
}

// Backoff is a unit whose repairs keep failing; the next one waits.
type Backoff struct {
	Unit        string    `json:"unit"`
	Failures    int       `json:"failures"`
	NextAttempt time.Time `json:"next_attempt"`
}

// JobStatus is the state of one periodic job the agent runs.
type JobStatus struct {
	Name    string    `json:"name"`
	LastRun time.Time `json:"last_run,omitzero"`
	Result  string    `json:"result,omitempty"`
	Error   string    `json:"error,omitempty"`
	NextRun time.Time `json:"next_run,omitzero"`
}

// Duration marshals as a Go duration string ("1.5s").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// StatusPath is where the agent keeps its status.
func StatusPath(stateDir string) string {
	return filepath.Join(paths.New("", stateDir, "").Agent(), "status.json")
}

// WriteStatus stores st atomically.
func WriteStatus(ctx context.Context, stateDir string, st *Status) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(StatusPath(stateDir)), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(StatusPath(stateDir), b)
}

// ErrNoAgent is returned by ReadStatus when no agent ever ran here.
var ErrNoAgent = errors.New("the agent has not run with this state dir (start it: systemctl start berth, or berth agent)")

// ReadStatus reads the agent's last status.
func ReadStatus(ctx context.Context, stateDir string) (*Status, error) {
	b, err := os.ReadFile(StatusPath(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoAgent
	}
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", StatusPath(stateDir), err)
	}
	return &st, nil
}
