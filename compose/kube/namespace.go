package kube

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/berth-dev/berth/compose"
)

// namespace holds the ConfigMaps, Secrets and claims of the other
// Kubernetes files of a directory: in Kubernetes they are objects of a
// namespace, usually kept in files of their own. The config dir is one
// namespace, and so is each subdirectory holding Kubernetes files.
type namespace struct {
	dir        string
	configMaps map[string]map[string][]byte
	secrets    map[string]map[string][]byte
	binary     map[string]bool // as objects.binary
	// claims maps a claim's name to its volume on the host, named after
	// the project of the file that declares it, so every pod mounting the
	// claim shares its data, as in Kubernetes.
	claims map[string]string
	// where is "file:line" of each object ("ConfigMap/name"), to name both
	// places of a name declared twice.
	where map[string]string
	// broken are the files that failed to load, named when a lookup fails
	// (the object may be in one of them).
	broken []string
	// dups are the warnings about a name declared in several files, by
	// "Kind/name": a project that declares the name itself never sees them.
	dups map[string][]string
}

// kubeFiles lists the Kubernetes YAML files directly in dir (not hidden,
// not berth.yaml), sorted: a file counts when its first document has
// apiVersion and kind, as in compose.LoadDir.
func kubeFiles(dir string) ([]string, error) {
	files, err := yamlFiles(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if isKubernetes(f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// yamlFiles lists the .yaml and .yml files directly in dir (not hidden,
// not berth.yaml), sorted.
func yamlFiles(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		n := de.Name()
		ext := filepath.Ext(n)
		if strings.HasPrefix(n, ".") || (ext != ".yaml" && ext != ".yml") || strings.TrimSuffix(n, ext) == "berth" {
			continue
		}
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// isKubernetes tells a Kubernetes file by its first document's apiVersion
// and kind.
func isKubernetes(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var head TypeMeta
	if err := yaml.Unmarshal(b, &head); err != nil {
		return false
	}
	return head.APIVersion != "" && head.Kind != ""
}

// readNamespace collects the data objects of dir's Kubernetes files (a
// project's own objects win over them, see useNamespace). A file that
// fails to load is remembered, not fatal: it may hold nothing a project
// needs.
func readNamespace(dir string) (*namespace, error) {
	files, err := yamlFiles(dir)
	if err != nil {
		return nil, fmt.Errorf("reading namespace %s: %w", dir, err)
	}
	ns := &namespace{dir: dir, configMaps: map[string]map[string][]byte{}, secrets: map[string]map[string][]byte{},
		binary: map[string]bool{}, claims: map[string]string{}, where: map[string]string{}, dups: map[string][]string{}}
	for _, f := range files {
		if err := ns.add(f); err != nil {
			ns.broken = append(ns.broken, err.Error())
		}
	}
	return ns, nil
}

// add reads the ConfigMaps, Secrets and claims of file; its workloads are
// another project's business.
func (ns *namespace) add(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	// Most files of a config dir are workloads or Compose files: only one
	// naming a data kind is parsed (each project of the dir reads them all).
	if !dataKind.Match(b) {
		return nil
	}
	var head TypeMeta
	if yaml.Unmarshal(b, &head) != nil || head.APIVersion == "" || head.Kind == "" {
		return nil // not Kubernetes (a Compose file, say): not the namespace's
	}
	docs, err := splitDocuments(file, b)
	if err != nil {
		return err
	}
	o := newObjects()
	for _, d := range docs {
		switch d.meta.Kind {
		case "ConfigMap", "Secret", "PersistentVolumeClaim":
			if err := o.add(d); err != nil {
				return err
			}
			key := d.meta.Kind + "/" + d.name
			if prev, dup := ns.where[key]; dup {
				ns.dups[key] = append(ns.dups[key], fmt.Sprintf("%s: %s %s is also declared at %s; the first one is used", d.where(""), d.meta.Kind, d.name, prev))
				continue
			}
			ns.where[key] = d.where("")
		}
	}
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	for k, v := range o.configMaps {
		if _, ok := ns.configMaps[k]; !ok {
			ns.configMaps[k] = v
			for key := range v {
				ns.binary[k+"/"+key] = o.binary[k+"/"+key]
			}
		}
	}
	for k, v := range o.secrets {
		if _, ok := ns.secrets[k]; !ok {
			ns.secrets[k] = v
		}
	}
	for _, c := range o.claims {
		if _, ok := ns.claims[c]; !ok {
			ns.claims[c] = compose.ProjectName(base) + "_" + c
		}
	}
	return nil
}

// dataKind finds a document of a kind a namespace holds.
var dataKind = regexp.MustCompile(`(?m)^\s*-?\s*kind:\s*["']?(ConfigMap|Secret|PersistentVolumeClaim)\b`)

// notFound is the end of a "no ConfigMap X" error: where berth looked, and
// the files it could not read there.
func (o *objects) notFound() string {
	if o.ns == nil {
		return "in this file"
	}
	s := "in this file or the other files of " + o.ns.dir
	if len(o.ns.broken) > 0 {
		s += " (some failed to load: " + strings.Join(o.ns.broken, "; ") + ")"
	}
	return s
}
