// Package compose owns berth's desired-state model and loads it from Compose
// files. Nothing outside this package sees compose-go types.
package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Project is one entry of the config dir: a directory with compose.yaml or a
// single NAME.yaml file.
type Project struct {
	Name string `json:"name"`
	// Dir is the project directory; relative paths resolve against it.
	Dir string `json:"dir"`
	// Files are the files the project was loaded from, for error messages.
	Files []string `json:"files"`
	// Services are sorted in dependency order: a service comes after the
	// services it depends on.
	Services []Service `json:"services"`
	// Warnings name every field that was read but is not supported.
	Warnings []string `json:"-"`
}

// Service is one container and its unit.
type Service struct {
	Project string `json:"project"`
	Name    string `json:"name"`
	Image   string `json:"image"`
	// Entrypoint and Command are nil when the image's defaults apply. An
	// empty non-nil slice clears the image's value, as in docker.
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	Command     []string          `json:"command,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	WorkingDir  string            `json:"working_dir,omitempty"`
	User        string            `json:"user,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Init        bool              `json:"init,omitempty"`

	Restart         Restart       `json:"restart"`
	StopSignal      string        `json:"stop_signal,omitempty"`
	StopGracePeriod time.Duration `json:"stop_grace_period,omitempty"`

	Resources Resources `json:"resources"`

	// NetworkMode is "" (own namespace, loopback only), "host" or "none".
	NetworkMode string `json:"network_mode,omitempty"`
}

// Resources are cgroup limits; zero means unlimited.
type Resources struct {
	MemoryMax int64   `json:"memory_max,omitempty"`
	CPUs      float64 `json:"cpus,omitempty"`
	PidsMax   int64   `json:"pids_max,omitempty"`
}

// RestartMode is a docker restart policy.
type RestartMode string

// The restart policies docker knows.
const (
	RestartNo            RestartMode = "no"
	RestartAlways        RestartMode = "always"
	RestartOnFailure     RestartMode = "on-failure"
	RestartUnlessStopped RestartMode = "unless-stopped"
)

// Restart is a restart policy with docker's optional retry count.
type Restart struct {
	Mode       RestartMode `json:"mode"`
	MaxRetries int         `json:"max_retries,omitempty"`
}

// ID names the service's container and the directories berth keeps for it.
func (s *Service) ID() string { return s.Project + "-" + s.Name }

// DefaultStopGracePeriod is docker's.
const DefaultStopGracePeriod = 10 * time.Second

// Hash is the stable spec hash: it changes exactly when the service would run
// differently, so the reconciler can diff without guessing.
func (s *Service) Hash() string {
	b, err := json.Marshal(s) // map keys are sorted by encoding/json
	if err != nil {
		panic("compose: service is not serialisable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}
