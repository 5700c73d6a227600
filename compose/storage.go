package compose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/compose-spec/compose-go/v2/types"
)

// volumes converts the top-level volumes. Mount.Source of a named volume is
// the volume's Name (compose's "<project>_<key>", or its `name:`), so the
// runtime finds it from the service spec alone.
func (l *loader) volumes() (map[string]model.Volume, error) {
	if len(l.cp.Volumes) == 0 {
		return nil, nil
	}
	out := map[string]model.Volume{}
	var errs []error
	for _, key := range sortedKeys(l.cp.Volumes) {
		vc := l.cp.Volumes[key]
		if err := CheckVolumeName(vc.Name); err != nil {
			field := []string{"volumes", key, "name"}
			// Still declared, so the services that use it report nothing more.
			errs = append(errs, fmt.Errorf("%s: volume %q: %s: %w", l.pos.at(field...), key, strings.Join(field[2:], "."), err))
		}
		out[key] = model.Volume{Name: vc.Name, External: bool(vc.External)}
	}
	return out, joinErrs(errs)
}

// storage fills Mounts, ReadOnly, ShmSize and Devices.
func (l *loader) storage(c svcAt, sc types.ServiceConfig, p *model.Project, s *model.Service) error {
	var errs []error
	for i, v := range sc.Volumes {
		field := []string{"volumes", strconv.Itoa(i)}
		m, err := l.mount(c, field, v, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.Mounts = append(s.Mounts, m)
	}
	for i, t := range sc.Tmpfs {
		m, err := parseTmpfs(c, []string{"tmpfs", strconv.Itoa(i)}, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.Mounts = append(s.Mounts, m)
	}
	s.ReadOnly = sc.ReadOnly
	s.ShmSize = int64(sc.ShmSize)
	for i, d := range sc.Devices {
		field := []string{"devices", strconv.Itoa(i)}
		if !filepath.IsAbs(d.Source) {
			errs = append(errs, c.errorf(field, "device %q: only host device paths (/dev/...) are supported", d.Source))
			continue
		}
		dev := model.Device{Source: d.Source, Target: d.Target, Permissions: d.Permissions}
		if dev.Target == "" {
			dev.Target = dev.Source
		}
		if dev.Permissions == "" {
			dev.Permissions = "rwm"
		}
		if strings.Trim(dev.Permissions, "rwm") != "" {
			errs = append(errs, c.errorf(field, "device permissions %q: use a combination of r, w and m", dev.Permissions))
			continue
		}
		s.Devices = append(s.Devices, dev)
	}
	return joinErrs(errs)
}

func (l *loader) mount(c svcAt, field []string, v types.ServiceVolumeConfig, p *model.Project) (model.Mount, error) {
	m := model.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
	if !filepath.IsAbs(v.Target) {
		return m, c.errorf(field, "target %q must be an absolute path", v.Target)
	}
	switch v.Type {
	case types.VolumeTypeBind:
		m.Type, m.Source = model.MountBind, v.Source
		if !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(l.dir, m.Source)
		}
		if v.Bind != nil {
			switch p := v.Bind.Propagation; p {
			case "", "rprivate":
			case "private", "shared", "rshared", "slave", "rslave":
				m.Propagation = p
			default:
				return m, c.errorf(append(field, "bind", "propagation"), "%q is not a propagation (valid: private, rprivate, shared, rshared, slave, rslave)", p)
			}
			if v.Bind.SELinux != "" {
				l.relabel = append(l.relabel, c.at(field...))
			}
		}
		fi, err := os.Stat(m.Source)
		switch {
		case os.IsNotExist(err):
			// Short syntax (and long syntax with bind.create_host_path, which
			// compose-go defaults to true once `bind:` is written) creates a
			// missing source as a directory when the container starts, as
			// docker does; plain long syntax is an error, as in docker.
			if v.Bind == nil || !bool(v.Bind.CreateHostPath) {
				return m, c.errorf(field, "bind source %s does not exist (create it, or set bind.create_host_path: true)", m.Source)
			}
		case err != nil:
			return m, c.errorf(field, "bind source: %v", err)
		case m.ReadOnly && l.opts.configRoot != "" && under(m.Source, l.opts.configRoot):
			h, err := contentHash(m.Source, fi)
			if err != nil {
				c.warnf(field, "restarting on changes of %s is off: %v", m.Source, err)
			}
			m.ContentHash = h
		}
	case types.VolumeTypeVolume:
		if lm, ok, err := l.localVolumeMount(c, field, v); ok {
			return lm, err
		}
		m.Type = model.MountVolume
		if v.Source != "" {
			vol, ok := p.Volumes[v.Source]
			if !ok {
				return m, c.errorf(field, "named volume %q is not declared under the top-level volumes", v.Source)
			}
			m.Source = vol.Name
		}
		if v.Volume != nil {
			m.SubPath = v.Volume.Subpath
			if m.SubPath != "" {
				if err := CheckSubPath(m.SubPath); err != nil {
					return m, c.errorf(append(field, "volume", "subpath"), "%v", err)
				}
			}
			if v.Volume.NoCopy {
				c.warnf(append(field, "volume", "nocopy"), "is ignored")
			}
		}
	case types.VolumeTypeTmpfs:
		m.Type = model.MountTmpfs
		if v.Tmpfs != nil {
			m.Size, m.Mode = int64(v.Tmpfs.Size), v.Tmpfs.Mode
		}
	default:
		return m, c.errorf(field, "volume type %q is not supported (valid: bind, volume, tmpfs)", v.Type)
	}
	return m, nil
}

// parseTmpfs reads a service tmpfs entry: "/path[:size=64m,mode=1777,ro]".
func parseTmpfs(c svcAt, field []string, spec string) (model.Mount, error) {
	target, opts, _ := strings.Cut(spec, ":")
	m := model.Mount{Type: model.MountTmpfs, Target: target}
	if !filepath.IsAbs(target) {
		return m, c.errorf(field, "target %q must be an absolute path", target)
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "":
		case "size":
			var b types.UnitBytes
			if err := b.DecodeMapstructure(v); err != nil {
				return m, c.errorf(field, "size %q: %v", v, err)
			}
			m.Size = int64(b)
		case "mode":
			mode, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return m, c.errorf(field, "mode %q must be octal", v)
			}
			m.Mode = uint32(mode)
		case "ro":
			m.ReadOnly = true
		case "rw":
		default:
			c.warnf(field, "tmpfs option %q is ignored", o)
		}
	}
	return m, nil
}

// files reads secrets and configs into FileMounts now, so a change of
// content changes the service's hash. A config's content is in the spec; a
// secret's only as a reference (its file, or an encrypted credential).
func (l *loader) fileMounts(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	var errs []error
	for i, ref := range sc.Secrets {
		obj, ok := l.cp.Secrets[ref.Source]
		if !ok {
			errs = append(errs, c.errorf([]string{"secrets", strconv.Itoa(i)}, "secret %q is not declared under the top-level secrets", ref.Source))
			continue
		}
		f, err := l.fileMount(c, "secrets", i, types.FileReferenceConfig(ref), types.FileObjectConfig(obj), "/run/secrets/")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !f.Secret { // content or environment: no source to re-read at start
			f.SetSecret(f.Content, "")
		}
		s.Files = append(s.Files, f)
	}
	for i, ref := range sc.Configs {
		obj, ok := l.cp.Configs[ref.Source]
		if !ok {
			errs = append(errs, c.errorf([]string{"configs", strconv.Itoa(i)}, "config %q is not declared under the top-level configs", ref.Source))
			continue
		}
		f, err := l.fileMount(c, "configs", i, types.FileReferenceConfig(ref), types.FileObjectConfig(obj), "/")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.Files = append(s.Files, f)
	}
	sort.SliceStable(s.Files, func(i, j int) bool { return s.Files[i].Target < s.Files[j].Target })
	return joinErrs(errs)
}

// defaultFileMode is docker's mode for secrets and configs.
const defaultFileMode = 0o444

func (l *loader) fileMount(c svcAt, kind string, i int, ref types.FileReferenceConfig, obj types.FileObjectConfig, dir string) (model.FileMount, error) {
	field := []string{kind, strconv.Itoa(i)}
	f := model.FileMount{Name: ref.Source, Target: ref.Target, Mode: defaultFileMode}
	if f.Target == "" {
		f.Target = ref.Source
	}
	if !filepath.IsAbs(f.Target) {
		f.Target = filepath.Join(dir, f.Target)
	}
	var err error
	if ref.UID != "" {
		if f.UID, err = strconv.Atoi(ref.UID); err != nil || f.UID < 0 {
			return f, c.errorf(append(field, "uid"), "%q is not a numeric uid", ref.UID)
		}
	}
	if ref.GID != "" {
		if f.GID, err = strconv.Atoi(ref.GID); err != nil || f.GID < 0 {
			return f, c.errorf(append(field, "gid"), "%q is not a numeric gid", ref.GID)
		}
	}
	if ref.Mode != nil {
		if *ref.Mode < 0 || *ref.Mode > 0o7777 {
			return f, c.errorf(append(field, "mode"), "%o is not a file mode", int64(*ref.Mode))
		}
		f.Mode = uint32(*ref.Mode)
	}
	top := func(sub string) string { return l.pos.at(kind, ref.Source, sub) }
	singular := strings.TrimSuffix(kind, "s")
	switch {
	case bool(obj.External):
		return f, fmt.Errorf("%s: %s %q: external %s are not supported", top("external"), singular, ref.Source, kind)
	case obj.Content != "":
		f.Content = []byte(obj.Content)
	case obj.Environment != "":
		v, ok := l.cp.Environment[obj.Environment]
		if !ok {
			return f, fmt.Errorf("%s: %s %q: environment variable %s is not set", top("environment"), singular, ref.Source, obj.Environment)
		}
		f.Content = []byte(v)
		f.Env = obj.Environment
	case obj.File != "":
		path := obj.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return f, fmt.Errorf("%s: %s %q: reading file: %w", top("file"), singular, ref.Source, err)
		}
		f.Content = b
		if kind == "secrets" {
			f.SetSecret(b, path)
		}
	default:
		return f, fmt.Errorf("%s: %s %q: needs file, environment or content", l.pos.at(kind, ref.Source), singular, ref.Source)
	}
	if f.Content == nil {
		f.Content = []byte{}
	}
	return f, nil
}

// under tells whether path lies inside root (both cleaned, absolute).
func under(path, root string) bool {
	root, err := filepath.Abs(root)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
