// Package kube reads Kubernetes YAML (Pod, Deployment, DaemonSet, Job,
// ConfigMap, Secret, PersistentVolumeClaim) into berth's model and writes
// the model back out as Kubernetes YAML.
//
// A file is one project named after the file (as for Compose files, so the
// unit names do not change when a Pod is renamed inside it). Each workload
// of the file (Pod, Deployment, DaemonSet or Job; several as a multi-document
// file or a kind: List) becomes one pod sandbox of the project
// (Project.Pods, named after the workload's metadata.name), whose containers
// become the project's services and share its namespaces, as podman kube
// play does. A file with one workload keeps the names it always had: its
// pod is keyed by the project and its services are named after the
// containers. With several, each pod is keyed <project>.<pod> (model.PodID)
// and its services are named <pod>-<container>, so two pods may both have a
// container "app". ConfigMaps, Secrets and claims are what the workloads
// refer to: in their own file or in another file of its directory (a
// namespace, see namespace.go). A file without a workload is such data, not
// a project.
package kube

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/compose"
)

// Load reads the Kubernetes file path, or every Kubernetes file of the
// directory path, as project name; ConfigMaps, Secrets and claims the
// project does not declare itself come from the other Kubernetes files of
// its directory (its namespace). A project with no workload is data for
// the others: Load returns a nil project and no error. It has the
// signature of compose.KubeLoader; loading a whole config dir, use a
// Loader, which reads each namespace once.
func Load(ctx context.Context, name, path string) (*model.Project, error) {
	return NewLoader().Load(ctx, name, path)
}

// Loader is Load with a memory of the namespaces it has read: one Loader
// per load of a config dir, so N files referring to a shared ConfigMap
// read the directory once, not N times. It never sees a file change: make
// a new one for the next load.
type Loader struct {
	mu         sync.Mutex
	namespaces map[string]*namespace
}

// NewLoader returns a Loader that has read nothing yet.
func NewLoader() *Loader { return &Loader{namespaces: map[string]*namespace{}} }

// Load is the package's Load, with l's namespaces.
func (l *Loader) Load(ctx context.Context, name, path string) (*model.Project, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files, dir := []string{path}, filepath.Dir(path)
	if fi.IsDir() {
		dir = path
		if files, err = kubeFiles(path); err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no Kubernetes file in the directory", path)
		}
	}
	srcs := make([]source, len(files))
	for i, f := range files {
		if srcs[i].content, err = os.ReadFile(f); err != nil {
			return nil, err
		}
		srcs[i].file = f
	}
	return parse(name, srcs, func() (*namespace, error) { return l.namespace(dir) })
}

// namespace reads dir's namespace once.
func (l *Loader) namespace(dir string) (*namespace, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ns, ok := l.namespaces[dir]; ok {
		return ns, nil
	}
	ns, err := readNamespace(dir)
	if err != nil {
		return nil, err
	}
	l.namespaces[dir] = ns
	return ns, nil
}

// source is one file of a project and its content.
type source struct {
	file    string
	content []byte
}

// workload is one Pod, Deployment, DaemonSet or Job of a project.
type workload struct {
	doc    *document
	pod    PodTemplate
	kind   string // Pod, Deployment, DaemonSet, Job
	prefix string // path of the pod template in the workload: "" or "spec.template."
	job    *JobSpec
}

// objects are the decoded documents of one project.
type objects struct {
	workloads []workload
	// The workload being converted (see convert); several says the
	// project has more than one, so names are scoped by pod.
	workload *document
	pod      PodTemplate
	kind     string
	prefix   string
	job      *JobSpec
	several  bool
	// hostPorts are the hostPorts published so far, with where.
	hostPorts map[hostPortKey]string
	// services are the service names given so far, with where.
	services   map[string]string
	configMaps map[string]map[string][]byte
	secrets    map[string]map[string][]byte
	// binary holds "ConfigMap/key" of binaryData keys: files only, never
	// environment variables (as in Kubernetes).
	binary map[string]bool
	claims []string
	// claimVolumes are the host volumes of claims declared in other files
	// of the namespace.
	claimVolumes map[string]string
	ns           *namespace
	project      string
	warnings     []string
}

func newObjects() *objects {
	return &objects{configMaps: map[string]map[string][]byte{}, secrets: map[string]map[string][]byte{}, binary: map[string]bool{}}
}

// Parse builds the project from the content b of file alone; nil when the
// file holds no workload (see Load).
func Parse(name, file string, b []byte) (*model.Project, error) {
	return parse(name, []source{{file, b}}, nil)
}

// parse builds the project from its files, looking up in the namespace
// what they do not declare; readNS (nil for none) is called only then, so
// a self-contained file costs no read of its directory.
func parse(name string, srcs []source, readNS func() (*namespace, error)) (*model.Project, error) {
	o := newObjects()
	o.project = name
	for _, src := range srcs {
		docs, err := splitDocuments(src.file, src.content)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if err := o.add(d); err != nil {
				return nil, err
			}
		}
	}
	if len(o.workloads) == 0 {
		return nil, nil // data: ConfigMaps, Secrets and claims only
	}
	var files []string
	for _, src := range srcs {
		abs, err := filepath.Abs(src.file)
		if err != nil {
			return nil, err
		}
		files = append(files, abs)
	}
	p := &model.Project{Name: name, Dir: filepath.Dir(files[0]), Files: files}
	for _, c := range o.claims {
		addVolume(p, c)
	}
	if readNS != nil && o.needsNamespace() {
		ns, err := readNS()
		if err != nil {
			return nil, err
		}
		o.ns = ns
		o.useNamespace()
	}
	if err := o.convert(p); err != nil {
		return nil, err
	}
	p.Warnings = append(o.warnings, p.Warnings...)
	return p, nil
}

// needsNamespace tells whether a pod refers to a ConfigMap, Secret or
// claim its own files do not declare.
func (o *objects) needsNamespace() bool {
	for i := range o.workloads {
		if o.podNeedsNamespace(&o.workloads[i].pod.Spec) {
			return true
		}
	}
	return false
}

func (o *objects) podNeedsNamespace(spec *PodSpec) bool {
	missing := func(objs map[string]map[string][]byte, name string) bool {
		_, ok := objs[name]
		return name != "" && !ok
	}
	for _, cs := range [][]Container{spec.InitContainers, spec.Containers} {
		for _, c := range cs {
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && missing(o.configMaps, ef.ConfigMapRef.Name) || ef.SecretRef != nil && missing(o.secrets, ef.SecretRef.Name) {
					return true
				}
			}
			for _, e := range c.Env {
				if v := e.ValueFrom; v != nil && (v.ConfigMapKeyRef != nil && missing(o.configMaps, v.ConfigMapKeyRef.Name) ||
					v.SecretKeyRef != nil && missing(o.secrets, v.SecretKeyRef.Name)) {
					return true
				}
			}
		}
	}
	for _, v := range spec.Volumes {
		switch {
		case v.ConfigMap != nil && missing(o.configMaps, v.ConfigMap.Name),
			v.Secret != nil && missing(o.secrets, v.Secret.SecretName),
			v.PersistentVolumeClaim != nil && !slices.Contains(o.claims, v.PersistentVolumeClaim.ClaimName):
			return true
		}
	}
	return false
}

// useNamespace adds the namespace's objects that the project does not
// declare itself.
func (o *objects) useNamespace() {
	for _, k := range sortedKeys(o.ns.dups) {
		kind, name, _ := strings.Cut(k, "/")
		_, own := map[string]map[string]map[string][]byte{"ConfigMap": o.configMaps, "Secret": o.secrets}[kind][name]
		if !own && !(kind == "PersistentVolumeClaim" && slices.Contains(o.claims, name)) {
			o.warnings = append(o.warnings, o.ns.dups[k]...)
		}
	}
	for k, v := range o.ns.configMaps {
		if _, ok := o.configMaps[k]; !ok {
			o.configMaps[k] = v
			for key := range v {
				if o.ns.binary[k+"/"+key] {
					o.binary[k+"/"+key] = true
				}
			}
		}
	}
	for k, v := range o.ns.secrets {
		if _, ok := o.secrets[k]; !ok {
			o.secrets[k] = v
		}
	}
	o.claimVolumes = map[string]string{}
	for k, v := range o.ns.claims {
		if !slices.Contains(o.claims, k) {
			o.claimVolumes[k] = v
		}
	}
}

// add decodes one document by kind.
func (o *objects) add(d *document) error {
	var warns []string
	var err error
	var job *JobSpec
	prefix := ""
	setWorkload := func(kind string, tmpl PodTemplate) error {
		if tmpl.Metadata.Name == "" {
			tmpl.Metadata.Name = d.name
		}
		for _, w := range o.workloads {
			if w.pod.Metadata.Name == tmpl.Metadata.Name {
				return d.errf("metadata.name", "pod name %q is also the name of the pod of %s %s at %s (each workload of a file is its own pod)",
					tmpl.Metadata.Name, w.doc.meta.Kind, w.doc.name, w.doc.where(""))
			}
		}
		o.workloads = append(o.workloads, workload{doc: d, kind: kind, pod: tmpl, prefix: prefix, job: job})
		return nil
	}
	switch d.meta.Kind {
	case "Pod":
		var v Pod
		if warns, err = d.decode(&v); err == nil {
			err = setWorkload("Pod", PodTemplate{Metadata: v.Metadata, Spec: v.Spec})
		}
	case "Deployment":
		var v Deployment
		if warns, err = d.decode(&v); err == nil {
			if v.Spec.Replicas != nil && *v.Spec.Replicas > 1 {
				warns = append(warns, fmt.Sprintf("%s: Deployment %s: spec.replicas is %d; berth runs 1 replica on this host",
					d.where("spec.replicas"), d.name, *v.Spec.Replicas))
			}
			v.Spec.Template.Metadata = mergeMeta(v.Metadata, v.Spec.Template.Metadata)
			prefix = "spec.template."
			err = setWorkload("Deployment", v.Spec.Template)
		}
	case "DaemonSet":
		var v DaemonSet
		if warns, err = d.decode(&v); err == nil {
			v.Spec.Template.Metadata = mergeMeta(v.Metadata, v.Spec.Template.Metadata)
			prefix = "spec.template."
			err = setWorkload("DaemonSet", v.Spec.Template)
		}
	case "Job":
		var v Job
		if warns, err = d.decode(&v); err == nil {
			for _, f := range []struct {
				name string
				v    *int32
			}{{"completions", v.Spec.Completions}, {"parallelism", v.Spec.Parallelism}} {
				if f.v != nil && *f.v > 1 {
					warns = append(warns, fmt.Sprintf("%s: Job %s: spec.%s is %d; berth runs the pod once on this host",
						d.where("spec."+f.name), d.name, f.name, *f.v))
				}
			}
			v.Spec.Template.Metadata = mergeMeta(v.Metadata, v.Spec.Template.Metadata)
			job, prefix = &v.Spec, "spec.template."
			err = setWorkload("Job", v.Spec.Template)
		}
	case "ConfigMap":
		var v ConfigMap
		if warns, err = d.decode(&v); err == nil {
			m := map[string][]byte{}
			for k, s := range v.Data {
				m[k] = []byte(s)
			}
			for k, s := range v.BinaryData {
				b, derr := base64.StdEncoding.DecodeString(s)
				if derr != nil {
					return d.errf("binaryData."+k, "not base64: %v", derr)
				}
				m[k] = b
				o.binary[d.name+"/"+k] = true
			}
			o.configMaps[d.name] = m
		}
	case "Secret":
		var v Secret
		if warns, err = d.decode(&v); err == nil {
			m := map[string][]byte{}
			for k, s := range v.Data {
				b, derr := base64.StdEncoding.DecodeString(s)
				if derr != nil {
					return d.errf("data."+k, "not base64: %v", derr)
				}
				m[k] = b
			}
			for k, s := range v.StringData { // stringData wins, as in the API server
				m[k] = []byte(s)
			}
			o.secrets[d.name] = m
		}
	case "PersistentVolumeClaim":
		var v PersistentVolumeClaim
		if warns, err = d.decode(&v); err == nil {
			if cerr := compose.CheckDNSSubdomain(d.name); cerr != nil {
				return d.errf("metadata.name", "%v", cerr)
			}
			o.claims = append(o.claims, d.name)
		}
	default:
		return fmt.Errorf("%s: kind %s is not supported (supported: Pod, Deployment, DaemonSet, Job, ConfigMap, Secret, PersistentVolumeClaim)",
			d.where("kind"), d.meta.Kind)
	}
	if err != nil {
		return err
	}
	o.warnings = append(o.warnings, warns...)
	return nil
}

// mergeMeta gives a template the workload's annotations and namespace
// where the template does not set its own.
func mergeMeta(obj, tmpl ObjectMeta) ObjectMeta {
	if tmpl.Namespace == "" {
		tmpl.Namespace = obj.Namespace
	}
	for k, v := range obj.Annotations {
		if _, ok := tmpl.Annotations[k]; !ok {
			if tmpl.Annotations == nil {
				tmpl.Annotations = map[string]string{}
			}
			tmpl.Annotations[k] = v
		}
	}
	return tmpl
}

// addVolume declares the project's named volume name and returns the name
// it has on the host, <project>_<name> as with Compose, so that projects
// never share a claim by accident and `down --volumes` finds it.
func addVolume(p *model.Project, name string) string {
	if p.Volumes == nil {
		p.Volumes = map[string]model.Volume{}
	}
	v := model.Volume{Name: p.Name + "_" + name}
	p.Volumes[name] = v
	return v.Name
}

// sortedKeys returns m's keys in order, so output never depends on map order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
