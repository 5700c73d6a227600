package runtime

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/berth-dev/berth/runtime/paths"
)

// State is what Run records about a started container in
// <run>/containers/<id>/state.json, for status commands and the updater.
type State struct {
	ID      string    `json:"id"`
	Pid     int       `json:"pid"`
	Image   string    `json:"image"`
	Digest  string    `json:"digest"`
	Started time.Time `json:"started"`
	// User is the user the container was configured to run as (the
	// service's user, else the image's USER), which health checks run as,
	// as docker's do, even after an entrypoint dropped PID 1's privileges.
	// nil in the state of containers started by older versions.
	User *User `json:"user,omitempty"`
	// StopSignal is the signal that stops the container: the service's
	// stop_signal, else the image's STOPSIGNAL; empty means SIGTERM (and
	// in the state of containers started by older versions).
	StopSignal string `json:"stop_signal,omitempty"`
}

// effectiveStopSignal is the service's stop_signal, else the image's
// STOPSIGNAL (docker's order), "" for neither.
func effectiveStopSignal(service, image string) string {
	if service != "" {
		return service
	}
	return image
}

// StopSignalFor returns the signal that stops the container id: the one
// its state records (stop_signal, else the image's STOPSIGNAL), else
// fallback, the unit's --signal. The units written before the state
// recorded it pass stop_signal or SIGTERM as fallback, so they keep
// working; reading the state lets an image's STOPSIGNAL apply too.
func StopSignalFor(runDir, id, fallback string) string {
	if id == "" {
		return fallback
	}
	st, err := ReadState(runDir, id)
	if err != nil || st.StopSignal == "" {
		return fallback
	}
	return stopSignalName(strings.ToUpper(st.StopSignal))
}

// User is a resolved process identity.
type User struct {
	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	Groups []int `json:"groups,omitempty"`
}

// ReadState reads the state Run wrote for id under runDir.
func ReadState(runDir, id string) (*State, error) {
	if runDir == "" {
		runDir = paths.DefaultRunDir
	}
	l, err := newLayout(Options{RunDir: runDir, StateDir: paths.DefaultStateDir}, id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(l.stateFile)
	if err != nil {
		return nil, fmt.Errorf("reading state of container %s: %w", id, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", l.stateFile, err)
	}
	return &s, nil
}

// writeState replaces path atomically, so a reader never sees half a file.
func writeState(path string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n')); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	return nil
}

// writeFileAtomic writes b to path with paths.WriteFile, private to root,
// so a reader (berth ps reading state.json, systemd reading PIDFile=) never
// sees a partial file.
func writeFileAtomic(path string, b []byte) error { return paths.WriteFile(path, b, 0o600) }
