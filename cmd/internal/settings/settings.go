// Package settings reads berth.yaml, the optional settings file in the
// config dir. Both binaries use it: berth (apply, the agent, auto-update)
// warns about keys it does not know, with file and line; the launcher
// reads the same struct and ignores them, so a typo in a key it does not
// use never stops a container from starting.
package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// Settings is berth.yaml.
type Settings struct {
	// InsecureRegistries may be used over plain HTTP or unverified TLS.
	// Registries on loopback always may, as with dockerd.
	InsecureRegistries []string `yaml:"insecure_registries"`
	// Profiles are the compose profiles enabled in every project; without
	// them COMPOSE_PROFILES (environment or a project's .env) decides.
	Profiles []string `yaml:"profiles"`
	// AutoUpdate configures `berth auto-update` and the agent's schedule.
	AutoUpdate AutoUpdate `yaml:"autoupdate"`
	// Agent tunes `berth agent`.
	Agent Agent `yaml:"agent"`
	// CNIPluginDir holds the CNI plugins; by default berth looks next to
	// its binary (cni/) and in /usr/local/lib/berth/cni.
	CNIPluginDir string `yaml:"cni_plugin_dir"`

	// Unknown lists the keys no field takes, as "file:line: unknown key
	// \"k\"", for berth to warn about.
	Unknown []string `yaml:"-"`
}

// Agent is the agent: section.
type Agent struct {
	// Interval is the re-list period (default 30s).
	Interval time.Duration `yaml:"interval"`
}

// AutoUpdate is the autoupdate: section.
type AutoUpdate struct {
	// Schedule is a robfig/cron spec for the agent ("" = daily, "off" =
	// the agent never runs auto-update).
	Schedule string `yaml:"schedule"`
	// RandomizedDelay spreads scheduled runs (unset: 15m; 0: none), as
	// systemd's RandomizedDelaySec does for the timer.
	RandomizedDelay *time.Duration `yaml:"randomized_delay"`
	// Soak is how long an updated service is watched before the update
	// counts as good (default 30s); a service's x-berth soak overrides it.
	Soak time.Duration `yaml:"soak"`
}

// Load reads the settings file at path; a missing file means defaults. A
// file that is not YAML, or a known key with a value of the wrong type, is
// an error naming the file and line.
func Load(path string) (*Settings, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Settings{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	var s Settings
	if err := decode(b, &s, false); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// The same document again, strictly: every error left is a key no
	// field takes.
	var te *yaml.TypeError
	if err := decode(b, &Settings{}, true); errors.As(err, &te) {
		for _, msg := range te.Errors {
			if m := unknownField.FindStringSubmatch(msg); m != nil {
				s.Unknown = append(s.Unknown, fmt.Sprintf("%s:%s: unknown key %q", path, m[1], m[2]))
			}
		}
	}
	return &s, nil
}

// unknownField matches yaml.v3's message for a key KnownFields refuses.
var unknownField = regexp.MustCompile(`^line (\d+): field (.+) not found in type `)

func decode(b []byte, v any, strict bool) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(strict)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
