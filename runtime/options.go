// Package runtime runs one service's container inside its systemd unit:
// image, rootfs, OCI spec, libcontainer, hand-over of the main PID to
// systemd, and the cleanup after it. It never talks D-Bus.
package runtime

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"

	// nsenter is libcontainer's C constructor that sets up namespaces when
	// the binary is re-executed as "init"; it must be linked into berth.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	// devices registers the cgroup device-rule manager libcontainer needs.
	_ "github.com/opencontainers/cgroups/devices"
)

// Options say where berth keeps its files and how it reaches registries.
type Options struct {
	StateDir string   // persistent state; default paths.DefaultStateDir
	RunDir   string   // volatile state (tmpfs); default paths.DefaultRunDir
	Insecure []string // registries allowed without TLS
	// AuthFile is <config>/auth.json, the first source of registry
	// credentials (image.CredentialChain); "" leaves only the default ones.
	AuthFile string
	// CNIPluginDir holds the CNI plugins; "" searches (network.FindPluginDir).
	CNIPluginDir string
	Log          *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.StateDir == "" {
		o.StateDir = paths.DefaultStateDir
	}
	if o.RunDir == "" {
		o.RunDir = paths.DefaultRunDir
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
	p := paths.New("", o.StateDir, o.RunDir)
	l := layout{
		images:       p.Images(),
		stateParent:  p.ContainerStates(),
		runParent:    p.Containers(),
		libcontainer: p.Libcontainer(),
	}
	var err error
	if l.stateDir, err = p.ContainerState(id); err != nil {
		return layout{}, err
	}
	if l.runDir, err = p.ContainerRun(id); err != nil {
		return layout{}, err
	}
	if l.libcontainerC, err = paths.Path(l.libcontainer, id); err != nil {
		return layout{}, err
	}
	l.upper = filepath.Join(l.stateDir, "upper")
	l.work = filepath.Join(l.stateDir, "work")
	l.rootfs = filepath.Join(l.runDir, "rootfs")
	l.stateFile = filepath.Join(l.runDir, "state.json")
	if l.pidFile, err = p.PIDFile(id); err != nil {
		return layout{}, err
	}
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
