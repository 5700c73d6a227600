package launch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// settings are the keys of berth.yaml the launcher uses. The file's other
// keys are berth's: apply and the agent check the whole file, and a typo
// there must not stop containers from starting, so they are not decoded
// (nor refused) here.
type settings struct {
	InsecureRegistries []string `yaml:"insecure_registries"`
	CNIPluginDir       string   `yaml:"cni_plugin_dir"`
}

// loadSettings reads <configDir>/berth.yaml; a missing file means defaults.
func loadSettings(configDir string) (settings, error) {
	path := filepath.Join(configDir, "berth.yaml")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return settings{}, nil
	}
	if err != nil {
		return settings{}, fmt.Errorf("reading settings: %w", err)
	}
	var s settings
	if err := yaml.Unmarshal(b, &s); err != nil {
		return settings{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
