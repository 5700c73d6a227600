package runtime

import (
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/compose/model"
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
	svc         *model.Service
	img         *imageInfo
	rootfs      string      // absolute path of the mounted rootfs
	cgroupsPath string      // absolute cgroup path, see containerCgroup
	init        *initBinary // nil unless svc.Init
	storage     *storage    // host sides of mounts and files; nil means none
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
	if svc.Security.RunAsNonRoot && u.Uid == 0 {
		return nil, fmt.Errorf("run_as_non_root: the user %q resolves to uid 0 (root); set a non-root user", userSpec(svc, cfg))
	}
	groups, err := additionalGroups(in.rootfs, u.Sgids, svc.GroupAdd)
	if err != nil {
		return nil, err
	}
	svcEnv, err := containerEnv(svc)
	if err != nil {
		return nil, err
	}
	limits, err := rlimits(svc.Security.Ulimits, ownRlimit)
	if err != nil {
		return nil, err
	}

	spec := specconv.Example()
	spec.Root = &specs.Root{Path: in.rootfs}
	spec.Hostname = hostname(svc)
	spec.Domainname = svc.Domainname
	spec.Process = &specs.Process{
		Args:            args,
		Env:             environment(cfg.Env, svcEnv, spec.Hostname, u.Home),
		Cwd:             workingDir(svc, cfg),
		User:            specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid), AdditionalGids: groups},
		Rlimits:         limits,
		NoNewPrivileges: false, // as docker: setuid binaries in images keep working
	}
	if err := applySecurity(spec, svc); err != nil {
		return nil, err
	}

	spec.Linux.CgroupsPath = in.cgroupsPath
	// No resource limits here: the unit's MemoryMax, TasksMax, CPUQuota
	// apply from the parent cgroup, and a limit set on the container's own
	// cgroup could only loosen what a user reads in systemctl show (on v1,
	// a child's memory.limit_in_bytes may be set above its parent's). Only
	// the device rules stay (deny all, then libcontainer's default devices
	// and the service's devices).
	spec.Linux.Namespaces = namespaces(spec.Linux.Namespaces, svc.NetworkMode)
	if err := applyDevices(spec, svc); err != nil {
		return nil, err
	}
	st := in.storage
	if st == nil {
		st = &storage{}
	}
	if len(st.sources) != len(svc.Mounts) || len(st.files) != len(svc.Files) {
		return nil, errors.New("internal error: storage was not prepared for every mount and file")
	}
	if err := applyMounts(spec, svc, st); err != nil {
		return nil, err
	}

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
	if err := applySeccomp(spec, svc.Security); err != nil {
		return nil, err
	}
	return spec, nil
}

// hostname is the service's hostname, else its name (docker compose uses
// the container id; the service name is what peers know it by).
func hostname(svc *model.Service) string {
	if svc.Hostname != "" {
		return svc.Hostname
	}
	return svc.Name
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
