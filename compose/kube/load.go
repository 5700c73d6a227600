// Package kube reads Kubernetes YAML (Pod, Deployment, DaemonSet, Job,
// ConfigMap, Secret, PersistentVolumeClaim) into berth's model and writes
// the model back out as Kubernetes YAML.
//
// A file is one project named after the file (as for Compose files, so the
// unit names do not change when a Pod is renamed inside it); it holds at
// most one workload (Pod, Deployment, DaemonSet or Job), whose containers
// become the project's services and share one pod sandbox (Project.Pod,
// named after the workload's metadata.name). ConfigMaps, Secrets and claims
// in the same file are what the workload refers to.
package kube

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/compose"
)

// Load reads the Kubernetes file path as the project name. It has the
// signature of compose.KubeLoader.
func Load(ctx context.Context, name, path string) (*model.Project, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(name, path, b)
}

// objects are the decoded documents of one file.
type objects struct {
	workload   *document
	pod        PodTemplate
	kind       string // Pod, Deployment, DaemonSet, Job
	prefix     string // path of the pod template in the workload: "" or "spec.template."
	job        *JobSpec
	configMaps map[string]map[string][]byte
	secrets    map[string]map[string][]byte
	claims     []string
	warnings   []string
}

// Parse builds the project from the content b of file.
func Parse(name, file string, b []byte) (*model.Project, error) {
	docs, err := splitDocuments(file, b)
	if err != nil {
		return nil, err
	}
	o := &objects{configMaps: map[string]map[string][]byte{}, secrets: map[string]map[string][]byte{}}
	for _, d := range docs {
		if err := o.add(d); err != nil {
			return nil, err
		}
	}
	if o.workload == nil {
		return nil, fmt.Errorf("%s: no Pod, Deployment, DaemonSet or Job in the file", file)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	p := &model.Project{Name: name, Dir: filepath.Dir(abs), Files: []string{abs}}
	for _, c := range o.claims {
		addVolume(p, c)
	}
	if err := o.convert(p); err != nil {
		return nil, err
	}
	p.Warnings = append(o.warnings, p.Warnings...)
	return p, nil
}

// add decodes one document by kind.
func (o *objects) add(d *document) error {
	var warns []string
	var err error
	setWorkload := func(kind string, tmpl PodTemplate) error {
		if o.workload != nil {
			return fmt.Errorf("%s: %s %s: only one Pod, Deployment, DaemonSet or Job per file (the first is %s %s at %s)",
				d.where(""), d.meta.Kind, d.name, o.workload.meta.Kind, o.workload.name, o.workload.where(""))
		}
		o.workload, o.kind, o.pod = d, kind, tmpl
		if o.pod.Metadata.Name == "" {
			o.pod.Metadata.Name = d.name
		}
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
			err = setWorkload("Deployment", v.Spec.Template)
			o.prefix = "spec.template."
		}
	case "DaemonSet":
		var v DaemonSet
		if warns, err = d.decode(&v); err == nil {
			v.Spec.Template.Metadata = mergeMeta(v.Metadata, v.Spec.Template.Metadata)
			err = setWorkload("DaemonSet", v.Spec.Template)
			o.prefix = "spec.template."
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
			o.job = &v.Spec
			err = setWorkload("Job", v.Spec.Template)
			o.prefix = "spec.template."
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
