package kube

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// runtimeFields are the downward-API fields only known when the container
// starts: the launcher fills them in (model.RuntimeEnvVar).
var runtimeFields = map[string]model.RuntimeField{
	string(model.FieldPodIP):    model.FieldPodIP,
	string(model.FieldHostIP):   model.FieldHostIP,
	string(model.FieldNodeName): model.FieldNodeName,
}

// envFields lists the fieldPaths an env var may read, for errors.
const envFields = "metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'], metadata.annotations['KEY'], " +
	"spec.serviceAccountName, spec.nodeName, status.podIP, status.hostIP"

// volumeFields lists the fieldPaths a downwardAPI volume file may read:
// Kubernetes allows only the pod's metadata there.
const volumeFields = "metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations, metadata.labels['KEY'], metadata.annotations['KEY']"

// podField is the value of a metadata or spec field known at load; ok is
// false for a path that is not one.
func (o *objects) podField(fp string, whole bool) (string, bool) {
	meta := &o.pod.Metadata
	if key, found := subscript(fp, "metadata.labels"); found {
		return meta.Labels[key], true
	}
	if key, found := subscript(fp, "metadata.annotations"); found {
		return meta.Annotations[key], true
	}
	switch fp {
	case "metadata.name":
		return meta.Name, true
	case "metadata.namespace":
		if meta.Namespace == "" {
			return "default", true
		}
		return meta.Namespace, true
	case "metadata.uid":
		return o.podUID(), true
	case "spec.serviceAccountName":
		if !whole {
			return o.serviceAccount(), true
		}
	case "metadata.labels":
		if whole {
			return formatMap(meta.Labels), true
		}
	case "metadata.annotations":
		if whole {
			return formatMap(meta.Annotations), true
		}
	}
	return "", false
}

// subscript reads field['key'] (or "key").
func subscript(fp, field string) (string, bool) {
	rest, ok := strings.CutPrefix(fp, field+"[")
	if !ok || !strings.HasSuffix(rest, "]") || len(rest) < 3 {
		return "", false
	}
	rest = rest[:len(rest)-1]
	q := rest[0]
	if (q != '\'' && q != '"') || rest[len(rest)-1] != q {
		return "", false
	}
	return rest[1 : len(rest)-1], true
}

// formatMap writes labels or annotations as the kubelet does in a
// downwardAPI file: key="value" lines, sorted, values quoted.
func formatMap(m map[string]string) string {
	keys := sortedKeys(m)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(lines, "\n")
}

// podUID is metadata.uid: a UUID derived from the project and the pod's
// name. A random one, as the API server makes, would change the spec hash
// (it is in the environment or a file) on every load, so every pass would
// recreate the pod; this one stays the same for as long as the pod keeps its
// name, and differs between pods.
func (o *objects) podUID() string {
	sum := sha256.Sum256([]byte(o.project + "/" + o.pod.Metadata.Name))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50 // version 5 layout (name-based, SHA)
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// serviceAccount is spec.serviceAccountName, "default" unless set (also
// through the deprecated spec.serviceAccount).
func (o *objects) serviceAccount() string {
	s := &o.pod.Spec
	switch {
	case s.ServiceAccountName != "":
		return s.ServiceAccountName
	case s.ServiceAccount != "":
		return s.ServiceAccount
	}
	return "default"
}

// resourceField is the value of a resourceFieldRef for container c:
// limits.* and requests.* of cpu, memory and ephemeral-storage, divided by
// divisor (default 1) and rounded up, as the kubelet does. An unset limit is
// the host's capacity (the node's allocatable); an unset request is the
// limit when that is set (the API server's default), else 0.
func (o *objects) resourceField(c *Container, ref *ResourceFieldRef, path string) (string, error) {
	d := o.workload
	kind, res, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") || (res != "cpu" && res != "memory" && res != "ephemeral-storage") {
		return "", d.errf(path+".resource", "unsupported resource %q (supported: limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage)", ref.Resource)
	}
	divisor := 1.0
	if ref.Divisor != "" {
		v, err := parseQuantity(ref.Divisor)
		if err != nil || v == 0 {
			return "", d.errf(path+".divisor", "must be a positive quantity, not %q", ref.Divisor)
		}
		divisor = v
	}
	var limits, requests map[string]string
	if c.Resources != nil {
		limits, requests = c.Resources.Limits, c.Resources.Requests
	}
	s, set := requests[res]
	if kind == "limits" || !set {
		s, set = limits[res]
	}
	var v float64
	switch {
	case set:
		q, err := parseQuantity(s)
		if err != nil {
			return "", d.errf(path+".resource", "%s: %v", ref.Resource, err)
		}
		v = q
	case kind == "limits":
		capacity, err := hostCapacity(res)
		if err != nil {
			return "", d.errf(path+".resource", "%s: %v", ref.Resource, err)
		}
		v = capacity
	}
	if res == "cpu" {
		// In millicores, as Kubernetes counts: 0.25 / 0.001 is 250, not the
		// 250.00000000000003 floats make of it.
		return strconv.FormatInt(ceilDiv(milli(v), max(1, milli(divisor))), 10), nil
	}
	return strconv.FormatInt(ceilDiv(int64(math.Ceil(v-1e-6)), max(1, int64(math.Ceil(divisor-1e-6)))), 10), nil
}

// milli is a CPU quantity in millicores, rounded up as Kubernetes'
// MilliValue does.
func milli(cpus float64) int64 { return int64(math.Ceil(cpus*1000 - 1e-6)) }

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// hostCapacity is the host's CPU count or memory: a limit the container
// does not set is the node's, in Kubernetes.
func hostCapacity(res string) (float64, error) {
	switch res {
	case "cpu":
		return float64(goruntime.NumCPU()), nil
	case "memory":
		return memTotal()
	}
	return 0, fmt.Errorf("no limit set, and berth does not measure the host's ephemeral storage; set one")
}

// memTotal reads MemTotal from /proc/meminfo.
func memTotal() (float64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("reading the host's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err != nil {
				return 0, fmt.Errorf("reading the host's memory: %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("reading the host's memory: no MemTotal in /proc/meminfo")
}

// downwardFiles are the files of a downwardAPI volume mounted by vm: each
// item's field or resource, at its path.
func (o *objects) downwardFiles(vol string, src *DownwardAPISource, vm VolumeMount, vp, mp string) ([]model.FileMount, error) {
	d := o.workload
	mode, err := o.fileMode(src.DefaultMode, vp)
	if err != nil {
		return nil, err
	}
	var out []model.FileMount
	for i, it := range src.Items {
		ip := fmt.Sprintf("%s.items[%d]", vp, i)
		if err := o.checkFilePath(it.Path, ip); err != nil {
			return nil, err
		}
		var content string
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef == nil:
			v, ok := o.podField(it.FieldRef.FieldPath, true)
			if !ok {
				return nil, d.errf(ip+".fieldRef.fieldPath", "unsupported field %q (supported in a volume: %s)", it.FieldRef.FieldPath, volumeFields)
			}
			content = v
		case it.ResourceFieldRef != nil && it.FieldRef == nil:
			c := o.findContainer(it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, d.errf(ip+".resourceFieldRef.containerName", "no container %q in the pod (a volume file must name its container)", it.ResourceFieldRef.ContainerName)
			}
			v, err := o.resourceField(c, it.ResourceFieldRef, ip+".resourceFieldRef")
			if err != nil {
				return nil, err
			}
			content = v
		default:
			return nil, d.errf(ip, "exactly one of fieldRef and resourceFieldRef is required")
		}
		m := mode
		if it.Mode != nil {
			m = uint32(*it.Mode)
		}
		target, ok := fileTarget(vm, it.Path)
		if !ok {
			continue
		}
		out = append(out, model.FileMount{
			Name:    fileMountName(vol, it.Path),
			Target:  target,
			Content: []byte(content),
			Mode:    m,
		})
	}
	if vm.SubPath != "" && len(out) == 0 {
		return nil, d.errf(mp+".subPath", "volume %q has no file %q", vol, vm.SubPath)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out, nil
}

// findContainer is the pod's (init) container called name.
func (o *objects) findContainer(name string) *Container {
	for _, cs := range [][]Container{o.pod.Spec.Containers, o.pod.Spec.InitContainers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}
