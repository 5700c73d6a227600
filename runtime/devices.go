package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
)

// defaultDevicePerms are docker's cgroup permissions for a device.
const defaultDevicePerms = "rwm"

// applyDevices gives the container the service's devices: each host node is
// created at its target and allowed in the container's device cgroup with
// its permissions. Privileged services get every host device and a device
// cgroup that allows all, as docker does.
func applyDevices(spec *specs.Spec, svc *model.Service) error {
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	if svc.Security.Privileged {
		host, err := hostDevices("/dev")
		if err != nil {
			return fmt.Errorf("privileged: listing host devices: %w", err)
		}
		spec.Linux.Devices = append(spec.Linux.Devices, host...)
		spec.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: defaultDevicePerms}}
	}
	for _, d := range svc.Devices {
		perms := d.Permissions
		if perms == "" {
			perms = defaultDevicePerms
		}
		if strings.Trim(perms, "rwm") != "" {
			return fmt.Errorf("devices: %s: permissions %q: use r, w and m only", d.Source, perms)
		}
		target := d.Target
		if target == "" {
			target = d.Source
		}
		if !path.IsAbs(target) {
			return fmt.Errorf("devices: %s: target %q is not an absolute path", d.Source, target)
		}
		dev, err := deviceNode(d.Source)
		if err != nil {
			return fmt.Errorf("devices: %w", err)
		}
		dev.Path = path.Clean(target)
		spec.Linux.Devices = append(spec.Linux.Devices, dev)
		major, minor := dev.Major, dev.Minor
		spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
			Allow: true, Type: dev.Type, Major: &major, Minor: &minor, Access: perms,
		})
	}
	return nil
}

// deviceNode describes host device node p (symlinks followed).
func deviceNode(p string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return specs.LinuxDevice{}, fmt.Errorf("%s: %w", p, err)
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, fmt.Errorf("%s is not a device node", p)
	}
	mode := fs.FileMode(st.Mode & 0o777)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Path:     p,
		Type:     typ,
		Major:    int64(unix.Major(uint64(st.Rdev))),
		Minor:    int64(unix.Minor(uint64(st.Rdev))),
		FileMode: &mode,
		UID:      &uid,
		GID:      &gid,
	}, nil
}

// hostDevices lists the device nodes under dir, skipping what docker skips:
// pseudo-terminals, shm, mqueue, fd links and the console.
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				return filepath.SkipDir
			}
			return nil
		}
		if e.Name() == "console" || e.Type()&fs.ModeDevice == 0 {
			return nil
		}
		d, err := deviceNode(p)
		if err != nil {
			return nil // vanished or changed since listed
		}
		out = append(out, d)
		return nil
	})
	return out, err
}
