// Package runtime runs one service's container inside its systemd unit:
// image, rootfs, OCI spec, libcontainer, hand-over of the main PID to
// systemd, and the cleanup after it. It never talks D-Bus.
package runtime

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"

	// nsenter is libcontainer's C constructor that sets up namespaces when
	// the binary is re-executed as "init"; it must be linked into berth.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// devices registers the cgroup device-rule manager libcontainer needs.
	_ "github.com/opencontainers/cgroups/devices"
)

// Default directories when Options leaves them empty.
const (
	DefaultStateDir = "/var/lib/berth"
	DefaultRunDir   = "/run/berth"
)

// Options say where berth keeps its files and how it reaches registries.
type Options struct {
	StateDir string   // persistent state; default DefaultStateDir
	RunDir   string   // volatile state (tmpfs); default DefaultRunDir
	Insecure []string // registries allowed without TLS
	// CNIPluginDir holds the CNI plugins; "" searches (network.FindPluginDir).
	CNIPluginDir string
	Log          *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.RunDir == "" {
		o.RunDir = DefaultRunDir
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// layout names every path berth keeps for one container. The lead's tests
// check these paths, so they are fixed.
type layout struct {
	images        string // <state>/images
	stateDir      string // <state>/containers/<id>: upper and work, not on tmpfs
	upper, work   string
	stateParent   string // <state>/containers
	runDir        string // <run>/containers/<id>
	runParent     string // <run>/containers
	rootfs        string // <run>/containers/<id>/rootfs: the overlay mount point
	stateFile     string // <run>/containers/<id>/state.json
	pidFile       string // <run>/containers/<id>/pid, the unit's PIDFile=
	libcontainer  string // <run>/libcontainer: libcontainer's state root
	libcontainerC string // <run>/libcontainer/<id>
}

func newLayout(o Options, id string) (layout, error) {
	if err := validID(id); err != nil {
		return layout{}, err
	}
	l := layout{
		images:       filepath.Join(o.StateDir, "images"),
		stateParent:  filepath.Join(o.StateDir, "containers"),
		runParent:    filepath.Join(o.RunDir, "containers"),
		libcontainer: filepath.Join(o.RunDir, "libcontainer"),
	}
	var err error
	if l.stateDir, err = model.Path(l.stateParent, id); err != nil {
		return layout{}, err
	}
	if l.runDir, err = model.Path(l.runParent, id); err != nil {
		return layout{}, err
	}
	if l.libcontainerC, err = model.Path(l.libcontainer, id); err != nil {
		return layout{}, err
	}
	l.upper = filepath.Join(l.stateDir, "upper")
	l.work = filepath.Join(l.stateDir, "work")
	l.rootfs = filepath.Join(l.runDir, "rootfs")
	l.stateFile = filepath.Join(l.runDir, "state.json")
	l.pidFile = PIDFile(o.RunDir, id)
	return l, nil
}

// validID refuses ids that could escape the directories above or that
// libcontainer would refuse later with a less helpful message.
func validID(id string) error {
	if err := model.Elem(id); err != nil || len(id) > 200 {
		return fmt.Errorf("invalid container id %q", id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == '+'
		if !ok {
			return fmt.Errorf("invalid container id %q: only letters, digits and -_.+ are allowed", id)
		}
	}
	return nil
}

// PIDFile is where Run writes the container's PID 1 for systemd (the unit's
// PIDFile=); package units builds the same path.
func PIDFile(runDir, id string) string {
	if runDir == "" {
		runDir = DefaultRunDir
	}
	return filepath.Join(runDir, "containers", id, "pid")
}
