package kube

import (
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/compose"
)

// defaultFileMode is Kubernetes' defaultMode for configMap and secret files.
const defaultFileMode = 0o644

// emptyDirVolume names the pod-scoped named volume behind an emptyDir: it
// lives as long as the project's volumes do (emptyDir content survives a
// container restart, as in Kubernetes).
func emptyDirVolume(name string) string { return "emptydir-" + name }

// podScoped is a name of the current pod's own (an emptyDir): itself in a
// file's only pod, <pod>-<name> when the file has several.
func (o *objects) podScoped(name string) string { return o.serviceName(name) }

// volumes maps the container's volumeMounts through the pod's volumes.
func (o *objects) volumes(p *model.Project, svc *model.Service, c *Container, cpath string) error {
	d := o.workload
	vols := map[string]int{}
	for i, v := range o.pod.Spec.Volumes {
		vols[v.Name] = i
	}
	for i, vm := range c.VolumeMounts {
		mp := fmt.Sprintf("%s.volumeMounts[%d]", cpath, i)
		vi, ok := vols[vm.Name]
		if !ok {
			return d.errf(mp+".name", "no volume %q in the pod's volumes", vm.Name)
		}
		if !path.IsAbs(vm.MountPath) {
			return d.errf(mp+".mountPath", "must be an absolute path, not %q", vm.MountPath)
		}
		if strings.HasPrefix(vm.SubPath, "/") || strings.Contains("/"+vm.SubPath+"/", "/../") {
			return d.errf(mp+".subPath", "must be a relative path inside the volume, not %q", vm.SubPath)
		}
		v := &o.pod.Spec.Volumes[vi]
		vp := o.prefix + fmt.Sprintf("spec.volumes[%d]", vi)
		m := model.Mount{Target: path.Clean(vm.MountPath), ReadOnly: vm.ReadOnly, SubPath: vm.SubPath}
		switch {
		case v.HostPath != nil:
			if !path.IsAbs(v.HostPath.Path) {
				return d.errf(vp+".hostPath.path", "must be an absolute path, not %q", v.HostPath.Path)
			}
			m.Type, m.Source = model.MountBind, path.Clean(v.HostPath.Path)
		case v.EmptyDir != nil && v.EmptyDir.Medium == "Memory" && o.mountCount(v.Name) == 1:
			if vm.SubPath != "" {
				return d.errf(mp+".subPath", "not supported on a memory emptyDir")
			}
			m.Type = model.MountTmpfs
			if v.EmptyDir.SizeLimit != "" {
				n, err := parseQuantity(v.EmptyDir.SizeLimit)
				if err != nil {
					return d.errf(vp+".emptyDir.sizeLimit", "%v", err)
				}
				m.Size = int64(math.Ceil(n))
			}
		case v.EmptyDir != nil:
			switch v.EmptyDir.Medium {
			case "":
			case "Memory":
				o.warnf(vp+".emptyDir.medium", "a memory emptyDir shared by several containers is kept on disk in a pod volume")
			default:
				return d.errf(vp+".emptyDir.medium", "unknown medium %q (valid: \"\", Memory)", v.EmptyDir.Medium)
			}
			m.Type, m.Source = model.MountVolume, addVolume(p, emptyDirVolume(o.podScoped(v.Name)))
		case v.PersistentVolumeClaim != nil:
			if v.PersistentVolumeClaim.ClaimName == "" {
				return d.errf(vp+".persistentVolumeClaim.claimName", "required")
			}
			if err := compose.CheckDNSSubdomain(v.PersistentVolumeClaim.ClaimName); err != nil {
				return d.errf(vp+".persistentVolumeClaim.claimName", "%v", err)
			}
			m.Type, m.Source = model.MountVolume, o.claimVolume(p, v.PersistentVolumeClaim.ClaimName)
			m.ReadOnly = m.ReadOnly || v.PersistentVolumeClaim.ReadOnly
		case v.ConfigMap != nil:
			files, err := o.projectFiles(v.Name, "ConfigMap", o.configMaps, v.ConfigMap.Name, v.ConfigMap.Projection, vm, vp+".configMap", ".name", mp)
			if err != nil {
				return err
			}
			svc.Files = append(svc.Files, files...)
			continue
		case v.Secret != nil:
			files, err := o.projectFiles(v.Name, "Secret", o.secrets, v.Secret.SecretName, v.Secret.Projection, vm, vp+".secret", ".secretName", mp)
			if err != nil {
				return err
			}
			for i := range files {
				files[i].SetSecret(files[i].Content, "") // no source left at start: a credential
			}
			svc.Files = append(svc.Files, files...)
			continue
		case v.DownwardAPI != nil:
			files, err := o.downwardFiles(v.Name, v.DownwardAPI, vm, vp+".downwardAPI", mp)
			if err != nil {
				return err
			}
			svc.Files = append(svc.Files, files...)
			continue
		default:
			return d.errf(vp, "volume %q has no supported source (supported: hostPath, emptyDir, configMap, secret, persistentVolumeClaim, downwardAPI)", v.Name)
		}
		if sc := o.pod.Spec.SecurityContext; m.Type == model.MountVolume && sc != nil && sc.FSGroup != nil {
			gid := int(*sc.FSGroup)
			m.FSGroup = &gid // the kubelet gives emptyDir and PVC volumes to fsGroup
		}
		svc.Mounts = append(svc.Mounts, m)
	}
	return nil
}

// mountCount is how many containers of the pod mount volume name.
func (o *objects) mountCount(name string) int {
	n := 0
	for _, cs := range [][]Container{o.pod.Spec.InitContainers, o.pod.Spec.Containers} {
		for _, c := range cs {
			for _, vm := range c.VolumeMounts {
				if vm.Name == name {
					n++
					break
				}
			}
		}
	}
	return n
}

// projectFiles writes the keys of the ConfigMap or Secret (kind) called
// name, looked up in objs, as files under the mount path: all keys, or only
// the projection's items (key → path, mode). With a subPath, the one file
// at that path is mounted at mountPath itself. A missing object is an error
// naming vp+nameField unless the projection is optional.
func (o *objects) projectFiles(vol, kind string, objs map[string]map[string][]byte, name string, proj Projection,
	vm VolumeMount, vp, nameField, mp string) ([]model.FileMount, error) {
	d := o.workload
	data, ok := objs[name]
	optional := isTrue(proj.Optional)
	if !ok && !optional {
		return nil, d.errf(vp+nameField, "no %s %q %s", kind, name, o.notFound())
	}
	items := proj.Items
	mode, err := o.fileMode(proj.DefaultMode, vp)
	if err != nil {
		return nil, err
	}
	type entry struct {
		key, rel string
		mode     uint32
	}
	var entries []entry
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			entries = append(entries, entry{k, k, mode})
		}
	}
	for i, it := range items {
		ip := fmt.Sprintf("%s.items[%d]", vp, i)
		if _, ok := data[it.Key]; !ok {
			if optional {
				continue
			}
			return nil, d.errf(ip+".key", "no key %q", it.Key)
		}
		if err := o.checkFilePath(it.Path, ip); err != nil {
			return nil, err
		}
		e := entry{it.Key, it.Path, mode}
		if it.Mode != nil {
			e.mode = uint32(*it.Mode)
		}
		entries = append(entries, e)
	}
	// With fsGroup, the kubelet gives the files to that group and lets it
	// read them, so a non-root user in the group can.
	gid, groupRead := 0, uint32(0)
	if sc := o.pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		gid, groupRead = int(*sc.FSGroup), 0o040
	}
	var out []model.FileMount
	for _, e := range entries {
		target, ok := fileTarget(vm, e.rel)
		if !ok {
			continue
		}
		out = append(out, model.FileMount{
			Name:    fileMountName(vol, e.rel),
			Target:  target,
			Content: data[e.key],
			GID:     gid,
			Mode:    e.mode | groupRead,
		})
	}
	if vm.SubPath != "" && len(out) == 0 && !optional {
		return nil, d.errf(mp+".subPath", "volume %q has no file %q", vol, vm.SubPath)
	}
	return out, nil
}

// fileMode is a projection's defaultMode, or the kubelet's default.
func (o *objects) fileMode(defaultMode *int32, vp string) (uint32, error) {
	if defaultMode == nil {
		return defaultFileMode, nil
	}
	if *defaultMode < 0 || *defaultMode > 0o777 {
		return 0, o.workload.errf(vp+".defaultMode", "must be between 0 and 0777, not %#o", *defaultMode)
	}
	return uint32(*defaultMode), nil
}

// checkFilePath refuses a projected file's path that would leave its volume.
func (o *objects) checkFilePath(p, ip string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains("/"+p+"/", "/../") {
		return o.workload.errf(ip+".path", "must be a relative path inside the volume, not %q", p)
	}
	return nil
}

// fileTarget is where a projected file at rel lands in the container; with
// a subPath only the file it names is mounted, at the mount path itself.
func fileTarget(vm VolumeMount, rel string) (string, bool) {
	if vm.SubPath == "" {
		return path.Join(vm.MountPath, rel), true
	}
	if path.Clean(vm.SubPath) != path.Clean(rel) {
		return "", false
	}
	return path.Clean(vm.MountPath), true
}

// fileMountName names the file mount of rel in volume vol.
func fileMountName(vol, rel string) string {
	return vol + "_" + strings.ReplaceAll(rel, "/", "_")
}

// claimVolume declares the project's volume for claim: the namespace's
// shared volume when another file declares the claim, else the project's
// own (see addVolume).
func (o *objects) claimVolume(p *model.Project, claim string) string {
	host, ok := o.claimVolumes[claim]
	if !ok {
		return addVolume(p, claim)
	}
	if p.Volumes == nil {
		p.Volumes = map[string]model.Volume{}
	}
	p.Volumes[claim] = model.Volume{Name: host}
	return host
}
