package runtime

import (
	"fmt"
	"slices"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose"
)

// defaultCaps is docker's default capability set (moby's
// oci/caps.DefaultCapabilities), given as bounding, effective and permitted
// set; the inheritable and ambient sets stay empty as in docker 23+.
var defaultCaps = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// defaultNofile is the open-files limit containers get (docker's and
// runc's), lowered to the launcher's own hard limit when that is smaller.
const defaultNofile = 1024

// initMountPoint is where the init binary is bind-mounted when the service
// sets init: true.
const initMountPoint = "/.berth/init"

// specInput is everything the OCI spec is built from.
type specInput struct {
	svc         *compose.Service
	img         *imageInfo
	rootfs      string      // absolute path of the mounted rootfs
	cgroupsPath string      // absolute cgroup path, see containerCgroup
	init        *initBinary // nil unless svc.Init
}

// buildSpec makes the OCI runtime spec for a service with docker's and
// runc's defaults: runc's example spec for mounts, masked and read-only
// /proc paths and namespaces; docker's capability set and seccomp profile;
// the image's config merged with the service's by docker's rules.
func buildSpec(in specInput) (*specs.Spec, error) {
	svc, cfg := in.svc, in.img.Config
	args, err := commandLine(svc, cfg)
	if err != nil {
		return nil, err
	}
	u, err := resolveUser(in.rootfs, userSpec(svc, cfg))
	if err != nil {
		return nil, err
	}
	nofile, err := nofileLimit()
	if err != nil {
		return nil, err
	}

	spec := specconv.Example()
	spec.Root = &specs.Root{Path: in.rootfs}
	spec.Hostname = svc.Name
	caps := slices.Clone(defaultCaps)
	spec.Process = &specs.Process{
		Args: args,
		Env:  environment(cfg.Env, svc.Environment, svc.Name, u.Home),
		Cwd:  workingDir(svc, cfg),
		User: specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid)},
		Capabilities: &specs.LinuxCapabilities{
			Bounding:  caps,
			Effective: caps,
			Permitted: caps,
		},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofile, Soft: nofile}},
		NoNewPrivileges: false, // as docker: setuid binaries in images keep working
	}
	for _, g := range u.Sgids {
		spec.Process.User.AdditionalGids = append(spec.Process.User.AdditionalGids, uint32(g))
	}

	spec.Linux.CgroupsPath = in.cgroupsPath
	// No resource limits here: the unit's MemoryMax, TasksMax, CPUQuota
	// apply from the parent cgroup. Only the device rules stay (deny all,
	// then libcontainer's default devices).
	spec.Linux.Namespaces = namespaces(spec.Linux.Namespaces, svc.NetworkMode)

	if in.init != nil {
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Destination: initMountPoint,
			Type:        "bind",
			Source:      in.init.path,
			Options:     []string{"bind", "ro", "nosuid", "nodev"},
		})
		spec.Process.Args = append(append([]string{initMountPoint}, in.init.args...), args...)
	}

	// The profile drops rules for syscalls the granted capabilities do not
	// cover, so it must be derived after the capabilities are set.
	sc, err := seccomp.GetDefaultProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("building the default seccomp profile: %w", err)
	}
	spec.Linux.Seccomp = sc
	return spec, nil
}

// namespaces keeps runc's private namespaces, sharing the host's network
// namespace for network_mode "host". "" and "none" both get a private
// network namespace with only loopback (libcontainer brings it up).
func namespaces(ns []specs.LinuxNamespace, mode string) []specs.LinuxNamespace {
	if mode != "host" {
		return ns
	}
	return slices.DeleteFunc(slices.Clone(ns), func(n specs.LinuxNamespace) bool {
		return n.Type == specs.NetworkNamespace
	})
}

// nofileLimit is defaultNofile, capped at the launcher's hard limit: a
// container can never be given more than berth itself may have.
func nofileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	return min(uint64(defaultNofile), rl.Max), nil
}
