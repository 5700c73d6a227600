package kube

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// IntOrName is a port given as a number or as the name of a container port.
type IntOrName struct {
	Int  int32
	Name string
}

// UnmarshalYAML accepts 8080 and "http".
func (p *IntOrName) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: port must be a number or a port name", n.Line)
	}
	if i, err := strconv.ParseInt(n.Value, 10, 32); err == nil && n.Tag != "!!str" {
		p.Int = int32(i)
		return nil
	}
	p.Name = n.Value
	return nil
}

// MarshalYAML writes the number, or the name when there is no number.
func (p IntOrName) MarshalYAML() (any, error) {
	if p.Name != "" {
		return p.Name, nil
	}
	return p.Int, nil
}

// document is one YAML document of a file with where its fields are.
type document struct {
	file    string
	line    int // of the document's kind
	meta    TypeMeta
	name    string
	node    *yaml.Node
	content []byte         // of the whole file, for error messages
	lines   map[string]int // field path ("spec.containers[0].image") → line
}

// where is "file:line" of path, or of the closest parent path known.
func (d *document) where(path string) string {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := d.lines[p]; ok {
			return fmt.Sprintf("%s:%d", d.file, l)
		}
	}
	return fmt.Sprintf("%s:%d", d.file, d.line)
}

// errf is an error naming file, line, object and field.
func (d *document) errf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s %s: %s: %s", d.where(path), d.meta.Kind, d.name, path, fmt.Sprintf(format, args...))
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// splitDocuments parses every non-empty document of a (multi-document)
// YAML file and checks it has apiVersion, kind and metadata.name.
func splitDocuments(file string, b []byte) ([]*document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*document
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, yamlError(file, "", b, err)
		}
		if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
			continue // "---" with nothing after it
		}
		root := n.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: a Kubernetes document must be a mapping", file, root.Line)
		}
		var meta TypeMeta
		if err := root.Decode(&meta); err != nil {
			return nil, yamlError(file, "", b, err)
		}
		if meta.Kind == "List" || strings.HasSuffix(meta.Kind, "List") && mapValue(root, "items") != nil {
			// kubectl's v1 List (and typed lists such as PodList): its items
			// are the documents.
			items, err := listItems(file, b, root)
			if err != nil {
				return nil, err
			}
			docs = append(docs, items...)
			continue
		}
		d, err := newDocument(file, b, root)
		if err != nil {
			return nil, err
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// listItems are the documents of a List's items.
func listItems(file string, b []byte, root *yaml.Node) ([]*document, error) {
	items := mapValue(root, "items")
	if items == nil || items.Kind != yaml.SequenceNode {
		line := root.Line
		if items != nil {
			line = items.Line
		}
		return nil, fmt.Errorf("%s:%d: List: items: must be a list of objects", file, line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i]; k.Value {
		case "apiVersion", "kind", "metadata", "items":
		default:
			return nil, fmt.Errorf("%s:%d: List: %s is not a field of a List", file, k.Line, k.Value)
		}
	}
	var out []*document
	for _, it := range items.Content {
		if it.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: List: items: each item must be an object", file, it.Line)
		}
		d, err := newDocument(file, b, it)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// newDocument checks that the object root has apiVersion, kind and
// metadata.name.
func newDocument(file string, b []byte, root *yaml.Node) (*document, error) {
	d := &document{file: file, line: root.Line, node: root, content: b}
	if err := root.Decode(&d.meta); err != nil {
		return nil, yamlError(file, "", b, err)
	}
	var m struct {
		Metadata ObjectMeta `yaml:"metadata"`
	}
	if err := root.Decode(&m); err != nil {
		return nil, yamlError(file, d.meta.Kind+": ", b, err)
	}
	d.name = m.Metadata.Name
	if kn := mapValue(root, "kind"); kn != nil {
		d.line = kn.Line
	}
	switch {
	case d.meta.APIVersion == "":
		return nil, fmt.Errorf("%s:%d: apiVersion: required", file, root.Line)
	case d.meta.Kind == "":
		return nil, fmt.Errorf("%s:%d: kind: required", file, root.Line)
	case d.name == "":
		return nil, fmt.Errorf("%s:%d: %s: metadata.name: required", file, d.line, d.meta.Kind)
	}
	return d, nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// decode fills v (a pointer to one of the object types) from the document,
// records the line of every field, and returns a warning for every key that
// v's type does not have, naming the field, the object and its line.
func (d *document) decode(v any) ([]string, error) {
	if err := d.node.Decode(v); err != nil {
		return nil, yamlError(d.file, d.meta.Kind+" "+d.name+": ", d.content, err)
	}
	d.lines = map[string]int{}
	var warns []string
	d.walk(d.node, reflect.TypeOf(v).Elem(), "", &warns)
	return warns, nil
}

// walk compares the keys of n with the yaml fields of t.
func (d *document) walk(n *yaml.Node, t reflect.Type, path string, warns *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = c.Line
			d.walk(c, t.Elem(), p, warns)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.lines[join(path, n.Content[i].Value)] = n.Content[i].Line
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == reflect.TypeOf(IntOrName{}) {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			d.lines[p] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				*warns = append(*warns, fmt.Sprintf("%s:%d: %s %s: %s is not supported; ignored", d.file, k.Line, d.meta.Kind, d.name, p))
				continue
			}
			d.walk(v, ft, p, warns)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps yaml keys to field types, following inline structs.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
