package systemd

import (
	"context"
	"os"
	"slices"
	"sync"
	"syscall"
)

// UnitCache lets the agent's frequent re-lists skip reading units that
// cannot have changed since the last pass. A berth unit is transient: its
// properties live in one file systemd writes when the unit is created
// (FragmentPath, under /run/systemd/transient) and never rewrites, and the
// only ways to change them afterwards are drop-ins — `systemctl
// set-property` writes one next to that file, hand-made ones elsewhere
// become active with a daemon-reload — which the unit lists in its
// DropInPaths. So while the fragment file is the same one (device, inode,
// size, mtime) the unit was not recreated and its Environment (project,
// service, spec hash) is as read before; and while DropInPaths is empty its
// limits are too. A cached pass costs one small D-Bus read (DropInPaths)
// per unit instead of four. Safe for concurrent use. List uses it when
// asked for all of cachedProps.
type UnitCache struct {
	mu    sync.Mutex
	units map[string]cachedUnit
}

// cachedProps are what a UnitCache remembers.
var cachedProps = append([]string{PropEnvironment}, limitProps...)

// cacheable reports whether props asks for everything a UnitCache holds.
func cacheable(props []string) bool {
	for _, p := range cachedProps {
		if !slices.Contains(props, p) {
			return false
		}
	}
	return true
}

type cachedUnit struct {
	fragment string
	id       fileID
	env      map[string]string
	limits   Limits
}

type fileID struct {
	dev, ino    uint64
	size, mtime int64
}

func statID(path string) (fileID, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano()}, true
}

func (uc *UnitCache) get(name string) (cachedUnit, bool) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	c, ok := uc.units[name]
	return c, ok
}

func (uc *UnitCache) put(name string, c cachedUnit) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.units == nil {
		uc.units = map[string]cachedUnit{}
	}
	uc.units[name] = c
}

// keepOnly forgets units that are no longer listed.
func (uc *UnitCache) keepOnly(listed map[string]bool) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	for name := range uc.units {
		if !listed[name] {
			delete(uc.units, name)
		}
	}
}

// readCached fills u's Environment and Limits from the cache when the unit
// provably did not change, reading only DropInPaths (and the limits, when
// there are drop-ins). It reports false when the unit must be read in full.
func (c *Client) readCached(ctx context.Context, uc *UnitCache, u *Unit) (bool, error) {
	cu, ok := uc.get(u.Name)
	if !ok {
		return false, nil
	}
	if id, ok := statID(cu.fragment); !ok || id != cu.id {
		return false, nil // recreated (or gone) since it was cached
	}
	p, err := c.conn.GetUnitPropertyContext(ctx, u.Name, "DropInPaths")
	if err != nil {
		return false, err
	}
	for k, v := range cu.env {
		u.Environment[k] = v
	}
	u.Limits = cu.limits
	if paths, _ := p.Value.Value().([]string); len(paths) > 0 {
		// Changed by hand: what systemd has now is what counts.
		props, err := c.props(ctx, u.Name, limitProps)
		if err != nil {
			return false, err
		}
		u.setProps(props)
	}
	return true, nil
}

// readFull reads u's Environment and Limits and, with a cache, remembers
// them with the identity of the unit's fragment file, taken before the
// reads (a unit recreated in between is then read again next time).
func (c *Client) readFull(ctx context.Context, uc *UnitCache, u *Unit) error {
	var fragment string
	var id fileID
	cacheable := false
	if uc != nil {
		p, err := c.conn.GetUnitPropertyContext(ctx, u.Name, "FragmentPath")
		if err != nil {
			return err
		}
		if fragment, _ = p.Value.Value().(string); fragment != "" {
			id, cacheable = statID(fragment)
		}
	}
	props, err := c.props(ctx, u.Name, cachedProps)
	if err != nil {
		return err
	}
	u.setProps(props)
	if cacheable {
		env := make(map[string]string, len(u.Environment))
		for k, v := range u.Environment {
			env[k] = v
		}
		uc.put(u.Name, cachedUnit{fragment: fragment, id: id, env: env, limits: u.Limits})
	}
	return nil
}
