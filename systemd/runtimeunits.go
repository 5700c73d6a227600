package systemd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RuntimeUnitDir is systemd's directory for runtime unit files: units
// that, like transient ones, vanish at reboot (systemd.unit(5)). berth
// writes there only what cannot be transient: the template service of an
// accepting socket (Accept=yes). /run/systemd/transient is systemd's own
// and holds only units created over D-Bus.
const RuntimeUnitDir = "/run/systemd/system"

// WriteRuntimeUnit writes a unit file into RuntimeUnitDir, replacing any
// earlier one at once (temp file and rename: systemd never reads half a
// unit). systemd (≥ 246) loads a unit first referenced after the file
// appeared without a daemon-reload: it rebuilds its unit path cache when a
// search directory's mtime changed.
func (c *Client) WriteRuntimeUnit(ctx context.Context, name, text string) error {
	path, err := runtimeUnitPath(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.writes.Add(1)
	f, err := os.CreateTemp(RuntimeUnitDir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("writing unit file %s: %w", path, err)
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing unit file %s: %w", path, err)
	}
	return nil
}

// RemoveRuntimeUnit removes a unit file WriteRuntimeUnit wrote; a missing
// one is not an error.
func (c *Client) RemoveRuntimeUnit(ctx context.Context, name string) error {
	path, err := runtimeUnitPath(name)
	if err != nil {
		return err
	}
	c.writes.Add(1)
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing unit file %s: %w", path, err)
	}
	return nil
}

// RuntimeUnits lists the unit files in RuntimeUnitDir whose names match
// the glob pattern.
func (c *Client) RuntimeUnits(ctx context.Context, pattern string) ([]string, error) {
	if strings.Contains(pattern, "/") {
		return nil, fmt.Errorf("listing unit files: pattern %q is not a unit name", pattern)
	}
	paths, err := filepath.Glob(filepath.Join(RuntimeUnitDir, pattern))
	if err != nil {
		return nil, fmt.Errorf("listing unit files %s: %w", pattern, err)
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out, nil
}

// runtimeUnitPath is name's file in RuntimeUnitDir; name must be one
// unit file name, not a path.
func runtimeUnitPath(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("%q is not a unit name", name)
	}
	return filepath.Join(RuntimeUnitDir, name), nil
}
