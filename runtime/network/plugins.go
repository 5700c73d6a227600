package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPluginDir is where `make install` puts the CNI plugins.
const DefaultPluginDir = "/usr/local/lib/berth/cni"

// requiredPlugins are the CNI plugins berth's network configs use.
var requiredPlugins = []string{"bridge", "host-local", "portmap", "firewall"}

// FindPluginDir returns the directory holding berth's CNI plugins: the
// configured one if set, else "cni" next to the berth binary (a build
// tree's bin/cni), else DefaultPluginDir. The error lists where it looked.
func FindPluginDir(configured string) (string, error) {
	var candidates []string
	if configured != "" {
		candidates = []string{configured}
	} else {
		if exe, err := os.Executable(); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), "cni"))
		}
		candidates = append(candidates, DefaultPluginDir, "/usr/lib/berth/cni")
	}
	var missing []string
	for _, dir := range candidates {
		ok := true
		for _, p := range requiredPlugins {
			if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.Mode()&0o111 == 0 {
				ok = false
				missing = append(missing, filepath.Join(dir, p))
				break
			}
		}
		if ok {
			return dir, nil
		}
	}
	return "", errors.New(fmt.Sprintf("CNI plugins not found (looked for %s); run make install or set cni_plugin_dir in berth.yaml",
		strings.Join(missing, ", ")))
}
