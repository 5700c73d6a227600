package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/compose"
	"gopkg.in/yaml.v3"
)

// settings is the optional berth.yaml in the config dir.
type settings struct {
	// InsecureRegistries may be used over plain HTTP or unverified TLS.
	// Registries on loopback always may, as with dockerd.
	InsecureRegistries []string `yaml:"insecure_registries"`
	// Profiles are the compose profiles enabled in every project; without
	// them COMPOSE_PROFILES (environment or a project's .env) decides.
	Profiles []string `yaml:"profiles"`
	// AutoUpdate configures `berth auto-update` and the agent's schedule.
	AutoUpdate autoUpdateSettings `yaml:"autoupdate"`
	// Agent tunes `berth agent`.
	Agent agentSettings `yaml:"agent"`
	// CNIPluginDir holds the CNI plugins; by default berth looks next to
	// its binary (cni/) and in /usr/local/lib/berth/cni.
	CNIPluginDir string `yaml:"cni_plugin_dir"`
}

// composeOptions are the load options the settings imply.
func (s *settings) composeOptions() []compose.Option {
	if s == nil || len(s.Profiles) == 0 {
		return nil
	}
	return []compose.Option{compose.WithProfiles(s.Profiles...)}
}

// agentSettings is the agent: section of berth.yaml.
type agentSettings struct {
	// Interval is the re-list period (default 30s).
	Interval time.Duration `yaml:"interval"`
}

// autoUpdateSettings is berth.yaml's autoupdate section.
type autoUpdateSettings struct {
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

func loadSettings(configDir string) (*settings, error) {
	path := filepath.Join(configDir, "berth.yaml")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &settings{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s settings
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}
