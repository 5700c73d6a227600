package main

import (
	"log/slog"

	"github.com/berth-dev/berth/cmd/internal/settings"
	"github.com/berth-dev/berth/compose"
	"github.com/berth-dev/berth/runtime/paths"
)

// loadSettings reads berth.yaml from the config dir.
func loadSettings(configDir string) (*settings.Settings, error) {
	return settings.Load(paths.New(configDir, "", "").Settings())
}

// warnSettings logs every key of berth.yaml berth does not know, with file
// and line: a typo is reported, and stops nothing.
func warnSettings(log *slog.Logger, s *settings.Settings) {
	for _, u := range s.Unknown {
		log.Warn("ignoring a setting", "reason", u)
	}
}

// composeOptions are the load options the settings imply.
func composeOptions(s *settings.Settings) []compose.Option {
	if s == nil || len(s.Profiles) == 0 {
		return nil
	}
	return []compose.Option{compose.WithProfiles(s.Profiles...)}
}
