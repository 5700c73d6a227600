package runtime

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/compose/model"
)

// storage is what prepareStorage made on the host for a service: the host
// source of each of svc.Mounts (by index; "" for tmpfs) and of each of
// svc.Files, and the named volumes it created.
type storage struct {
	sources []string
	files   []string
	created []string // named volumes created by this start
}

// prepareStorage creates the host side of the service's mounts and files:
// named and anonymous volumes (filled from the image in rootfs when new),
// bind sources, and the secret and config files in the run dir. On error,
// what it made is removed again: volumes it created here, and the files
// (the container's run and state dirs are removed by cleanup).
func prepareStorage(opts Options, l layout, svc *model.Service, rootfs string) (*storage, error) {
	st := &storage{sources: make([]string, len(svc.Mounts))}
	for i, m := range svc.Mounts {
		src, made, err := hostSource(opts.StateDir, l, svc, i, rootfs)
		if made != "" {
			st.created = append(st.created, made)
		}
		if err != nil {
			st.removeCreated(opts.StateDir)
			return nil, fmt.Errorf("mounts: %s: %w", m.Target, err)
		}
		st.sources[i] = src
	}
	files, err := writeFiles(l, svc.Files)
	if err != nil {
		st.removeCreated(opts.StateDir)
		return nil, err
	}
	st.files = files
	return st, nil
}

// removeCreated removes the named volumes this start created, when the
// container never ran: nothing but the image's copy is in them yet.
func (st *storage) removeCreated(stateDir string) {
	for _, name := range st.created {
		_ = os.RemoveAll(filepath.Dir(VolumePath(stateDir, name)))
	}
	st.created = nil
}

// tmpfsOptions are docker's defaults for a tmpfs mount.
var tmpfsOptions = []string{"nosuid", "nodev", "noexec"}

// defaultShmSize is docker's /dev/shm size.
const defaultShmSize = 64 << 20

// applyMounts adds the service's mounts and files to the spec, sets
// read_only and shm_size. A service mount replaces a default mount at the
// same destination (as in docker); mounts are ordered so that a parent
// directory is mounted before what is mounted below it.
func applyMounts(spec *specs.Spec, svc *model.Service, st *storage) error {
	var user []specs.Mount
	for i, m := range svc.Mounts {
		if !path.IsAbs(m.Target) {
			return fmt.Errorf("mounts: target %q is not an absolute path", m.Target)
		}
		target := path.Clean(m.Target)
		switch m.Type {
		case model.MountBind, model.MountVolume:
			prop := "rprivate"
			if m.Propagation != "" {
				prop = m.Propagation
				raiseRootfsPropagation(spec, prop)
			}
			opts := []string{"rbind", prop}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			user = append(user, specs.Mount{Destination: target, Type: "bind", Source: st.sources[i], Options: opts})
		case model.MountTmpfs:
			opts := slices.Clone(tmpfsOptions)
			mode := m.Mode
			if mode == 0 {
				mode = 0o1777
			}
			opts = append(opts, "mode="+strconv.FormatUint(uint64(mode), 8))
			if m.Size > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.Size, 10))
			}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			user = append(user, specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		default:
			return fmt.Errorf("mounts: %s: unknown mount type %q (valid: bind, volume, tmpfs)", m.Target, m.Type)
		}
	}
	for i, f := range svc.Files {
		if !path.IsAbs(f.Target) {
			return fmt.Errorf("%s %s: target %q is not an absolute path", fileKind(f), f.Name, f.Target)
		}
		user = append(user, specs.Mount{Destination: path.Clean(f.Target), Type: "bind", Source: st.files[i],
			Options: []string{"bind", "rprivate", "ro", "nosuid", "nodev", "noexec"}})
	}
	for i, a := range user {
		for _, b := range user[i+1:] {
			if a.Destination == b.Destination {
				return fmt.Errorf("mounts: two mounts at %s", a.Destination)
			}
		}
	}
	if svc.ShmSize < 0 {
		return fmt.Errorf("shm_size: %d is negative", svc.ShmSize)
	}
	shm := int64(defaultShmSize)
	if svc.ShmSize > 0 {
		shm = svc.ShmSize
	}
	for i := range spec.Mounts {
		if m := &spec.Mounts[i]; m.Destination == "/dev/shm" && m.Type == "tmpfs" {
			m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return strings.HasPrefix(o, "size=") })
			m.Options = append(m.Options, "size="+strconv.FormatInt(shm, 10))
		}
	}
	spec.Mounts = slices.DeleteFunc(spec.Mounts, func(d specs.Mount) bool {
		return slices.ContainsFunc(user, func(u specs.Mount) bool { return u.Destination == d.Destination })
	})
	slices.SortStableFunc(user, func(a, b specs.Mount) int { return depth(a.Destination) - depth(b.Destination) })
	spec.Mounts = append(spec.Mounts, user...)
	spec.Root.Readonly = svc.ReadOnly
	return nil
}

// raiseRootfsPropagation makes the container's root at least as open as a
// bind mount's propagation, as docker does: a shared or slave bind below a
// private root would receive no events from the host.
func raiseRootfsPropagation(spec *specs.Spec, prop string) {
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	switch strings.TrimPrefix(prop, "r") {
	case "shared":
		spec.Linux.RootfsPropagation = "rshared"
	case "slave":
		if spec.Linux.RootfsPropagation != "rshared" {
			spec.Linux.RootfsPropagation = "rslave"
		}
	}
}

// depth is the number of path elements of a clean absolute path.
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

func fileKind(f model.FileMount) string {
	if f.Secret {
		return "secret"
	}
	return "config"
}
