// Package paths owns every path berth uses under its three directories:
// the config dir (desired state, settings), the state dir (images, volumes,
// frozen specs, update history) and the run dir (tmpfs: container state,
// PID files, netns pins, notify sockets). Each name taken from the model
// passes [model.Elem], so none can climb out of its directory. The package
// also holds the one atomic-write helper ([WriteFile]) and the one lock
// helper ([Lock], [TryLock]) every state write goes through.
//
// It imports only the standard library, x/sys and compose/model (itself
// stdlib only), so the launcher, runtime, reconciler, autoupdate and cmd may
// all use it.
package paths

import (
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"
)

// The default directories; flags and BERTH_*_DIR override them.
const (
	DefaultConfigDir = "/etc/berth"
	DefaultStateDir  = "/var/lib/berth"
	DefaultRunDir    = "/run/berth"
)

// Layout is berth's three directories. Its zero value means the defaults.
type Layout struct {
	ConfigDir, StateDir, RunDir string
}

// New is the layout of the given dirs; an empty one is its default.
func New(configDir, stateDir, runDir string) Layout {
	return Layout{
		ConfigDir: or(configDir, DefaultConfigDir),
		StateDir:  or(stateDir, DefaultStateDir),
		RunDir:    or(runDir, DefaultRunDir),
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Path joins dir and elems, each of which must be one clean file name
// ([model.Elem]): the one function every path carrying a name from the
// model is built with.
func Path(dir string, elems ...string) (string, error) { return model.Path(dir, elems...) }

func (l Layout) config() string { return or(l.ConfigDir, DefaultConfigDir) }
func (l Layout) state() string  { return or(l.StateDir, DefaultStateDir) }
func (l Layout) run() string    { return or(l.RunDir, DefaultRunDir) }

// Settings is berth.yaml in the config dir.
func (l Layout) Settings() string { return filepath.Join(l.config(), "berth.yaml") }

// AuthFile is the registry credentials file in the config dir.
func (l Layout) AuthFile() string { return filepath.Join(l.config(), "auth.json") }

// Images is the image store's root.
func (l Layout) Images() string { return filepath.Join(l.state(), "images") }

// Networks holds the network records and IPAM reservations.
func (l Layout) Networks() string { return filepath.Join(l.state(), "networks") }

// Volumes holds the named volumes.
func (l Layout) Volumes() string { return filepath.Join(l.state(), "volumes") }

// Volume is the directory of the named volume name.
func (l Layout) Volume(name string) (string, error) { return Path(l.Volumes(), name) }

// Specs is the directory of the frozen specs (see [Specs]).
func (l Layout) Specs() string { return filepath.Join(l.state(), "specs") }

// SpecFile is the frozen spec of the service with id and spec hash: the
// name carries the hash, so a running unit's restarts keep reading the spec
// it was created with while apply writes the next one.
func (l Layout) SpecFile(id, hash string) (string, error) { return l.SpecStore().file(id, hash) }

// ContainerStates is the parent of every container's persistent dir.
func (l Layout) ContainerStates() string { return filepath.Join(l.state(), "containers") }

// ContainerState is a container's persistent dir (overlay upper and work,
// anonymous volumes).
func (l Layout) ContainerState(id string) (string, error) {
	return Path(l.ContainerStates(), id)
}

// AutoUpdate holds auto-update's history, bad digests and run lock.
func (l Layout) AutoUpdate() string { return filepath.Join(l.state(), "autoupdate") }

// ImagesLockfile is the lockfile of resolved digests.
func (l Layout) ImagesLockfile() string { return filepath.Join(l.state(), "images.lock.json") }

// ReconcileLock is the lock the agent and every changing command hold.
func (l Layout) ReconcileLock() string { return filepath.Join(l.state(), "reconcile.lock") }

// Agent holds the agent's status, action log, last-good snapshots and the
// recorded stop/start intents.
func (l Layout) Agent() string { return filepath.Join(l.state(), "agent") }

// Containers is the parent of every container's run dir.
func (l Layout) Containers() string { return filepath.Join(l.run(), "containers") }

// ContainerRun is a container's volatile dir: rootfs mount, state.json,
// PID file, notify socket, health record.
func (l Layout) ContainerRun(id string) (string, error) { return Path(l.Containers(), id) }

// PIDFile is where the launcher writes the container's PID 1, and the
// unit's PIDFile=.
func (l Layout) PIDFile(id string) (string, error) { return Path(l.Containers(), id, "pid") }

// Libcontainer is libcontainer's state root.
func (l Layout) Libcontainer() string { return filepath.Join(l.run(), "libcontainer") }

// Netns holds the pinned network namespaces of pods and containers.
func (l Layout) Netns() string { return filepath.Join(l.run(), "netns") }

// CNICache and IPAM are the CNI plugins' volatile state.
func (l Layout) CNICache() string { return filepath.Join(l.run(), "cni", "cache") }

// IPAM is host-local IPAM's volatile state.
func (l Layout) IPAM() string { return filepath.Join(l.run(), "cni", "ipam") }

// NetworkRules marks the networks whose nftables rules are installed
// (volatile like the rules themselves).
func (l Layout) NetworkRules() string { return filepath.Join(l.run(), "cni", "rules") }

func isHash(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
