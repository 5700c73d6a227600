package compose

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/schema"
)

// compose-go words some schema errors for its own code, not for the
// person who wrote the file: an unknown field is "services.web.wrongField
// false schema", a mapping where a list belongs is "services.web.command
// must be a null" (the last alternative tried) or "unexpected type
// map[string]interface {}". explainSchemaError says instead what is wrong
// and which shape the compose specification expects there, read from the
// specification's JSON schema that compose-go embeds.

var (
	falseSchema    = regexp.MustCompile(`(\S+) false schema`)
	mustBe         = regexp.MustCompile(`(\S+) must be a ([a-z, ]+)$`)
	unexpectedType = regexp.MustCompile(`(\S+): unexpected type (\S+(?: \{\})?)`)
	additional     = regexp.MustCompile(`(\S+) additional properties (.+) not allowed`)
)

// hintError keeps compose-go's error in the chain under a clearer
// message (schema errors, a missing env_file).
type hintError struct {
	msg string
	err error
}

func (e *hintError) Error() string { return e.msg }
func (e *hintError) Unwrap() error { return e.err }

// explainSchemaError rewrites compose-go's wording of a schema error; other
// errors are returned as they are.
func explainSchemaError(err error) error {
	msg := err.Error()
	out := falseSchema.ReplaceAllStringFunc(msg, func(m string) string {
		return falseSchema.FindStringSubmatch(m)[1] + ": unknown field"
	})
	out = additional.ReplaceAllStringFunc(out, func(m string) string {
		sm := additional.FindStringSubmatch(m)
		return sm[1] + ": unknown field " + strings.ReplaceAll(sm[2], "'", "\"")
	})
	out = mustBe.ReplaceAllStringFunc(out, func(m string) string {
		sm := mustBe.FindStringSubmatch(m)
		if want := expectedShape(sm[1]); want != "" {
			return sm[1] + ": must be " + want
		}
		return sm[1] + ": must be a " + sm[2]
	})
	out = unexpectedType.ReplaceAllStringFunc(out, func(m string) string {
		sm := unexpectedType.FindStringSubmatch(m)
		sm[1] = strings.ReplaceAll(sm[1], ".[", "[") // compose-go's tree path: environment.[0]
		got := goTypeShape(sm[2])
		if want := expectedShape(sm[1]); want != "" {
			return fmt.Sprintf("%s: must be %s, not %s", sm[1], want, got)
		}
		return fmt.Sprintf("%s: %s is not allowed here", sm[1], got)
	})
	if out == msg {
		return err
	}
	return &hintError{msg: out, err: err}
}

// goTypeShape names a decoded YAML value's Go type as the file's shape.
func goTypeShape(t string) string {
	switch {
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case t == "<nil>":
		return "null"
	}
	return "a number"
}

// expectedShape describes what the compose schema allows at a dotted
// instance path ("services.web.command", list indexes as "0" or "[0]"),
// "" when the path is not found.
func expectedShape(path string) string {
	var root map[string]any
	if json.Unmarshal([]byte(schema.Schema), &root) != nil {
		return ""
	}
	sw := schemaWalk{root: root}
	nodes := []map[string]any{root}
	path = strings.NewReplacer(".[", ".", "[", ".", "]", "").Replace(path)
	for _, part := range strings.Split(path, ".") {
		var next []map[string]any
		for _, n := range nodes {
			next = append(next, sw.child(n, part, 0)...)
		}
		if nodes = next; len(nodes) == 0 {
			return ""
		}
	}
	seen := map[string]bool{}
	var shapes []string
	for _, n := range nodes {
		for _, s := range sw.shapes(n, 0) {
			if !seen[s] {
				seen[s] = true
				shapes = append(shapes, s)
			}
		}
	}
	if len(shapes) == 0 {
		return ""
	}
	sort.Slice(shapes, func(i, j int) bool { return shapeRank(shapes[i]) < shapeRank(shapes[j]) })
	if len(shapes) == 1 {
		return shapes[0]
	}
	return strings.Join(shapes[:len(shapes)-1], ", ") + " or " + shapes[len(shapes)-1]
}

// shapeRank orders shapes: scalars, lists, mappings, null last.
func shapeRank(s string) int {
	for i, p := range []string{"a string", "a number", "a boolean", "a list", "a mapping", "null"} {
		if strings.HasPrefix(s, p) {
			return i
		}
	}
	return 10
}

// schemaWalk follows $ref, allOf, oneOf and anyOf through the schema.
type schemaWalk struct{ root map[string]any }

const maxSchemaDepth = 16

// expand returns n with the schemas it refers to or combines.
func (w schemaWalk) expand(n map[string]any, depth int) []map[string]any {
	if n == nil || depth > maxSchemaDepth {
		return nil
	}
	out := []map[string]any{n}
	if ref, ok := n["$ref"].(string); ok {
		out = append(out, w.expand(w.ref(ref), depth+1)...)
	}
	for _, key := range []string{"allOf", "oneOf", "anyOf"} {
		alts, _ := n[key].([]any)
		for _, a := range alts {
			if m, ok := a.(map[string]any); ok {
				out = append(out, w.expand(m, depth+1)...)
			}
		}
	}
	return out
}

// ref resolves "#/$defs/name".
func (w schemaWalk) ref(ref string) map[string]any {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil
	}
	defs, _ := w.root["$defs"].(map[string]any)
	m, _ := defs[name].(map[string]any)
	return m
}

// child returns the schemas that apply to key (a field or a list index)
// of an instance n describes.
func (w schemaWalk) child(n map[string]any, key string, depth int) []map[string]any {
	var out []map[string]any
	_, err := strconv.Atoi(key)
	isIndex := err == nil
	for _, s := range w.expand(n, depth) {
		if isIndex {
			if items, ok := s["items"].(map[string]any); ok {
				out = append(out, items)
			}
			continue
		}
		if props, ok := s["properties"].(map[string]any); ok {
			if p, ok := props[key].(map[string]any); ok {
				out = append(out, p)
				continue
			}
		}
		if pats, ok := s["patternProperties"].(map[string]any); ok {
			for pat, p := range pats {
				re, err := regexp.Compile(pat)
				if m, ok := p.(map[string]any); ok && err == nil && re.MatchString(key) && !strings.HasPrefix(pat, "^x-") {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// shapes lists the shapes a schema allows, in words.
func (w schemaWalk) shapes(n map[string]any, depth int) []string {
	var out []string
	for _, s := range w.expand(n, depth) {
		var types []string
		switch t := s["type"].(type) {
		case string:
			types = []string{t}
		case []any:
			for _, v := range t {
				if str, ok := v.(string); ok {
					types = append(types, str)
				}
			}
		}
		for _, t := range types {
			switch t {
			case "string":
				out = append(out, "a string")
			case "number", "integer":
				out = append(out, "a number")
			case "boolean":
				out = append(out, "a boolean")
			case "null":
				out = append(out, "null")
			case "object":
				out = append(out, "a mapping")
			case "array":
				out = append(out, "a list"+w.itemsShape(s, depth))
			}
		}
	}
	return out
}

// itemsShape is " of strings" for a list whose items are all strings.
func (w schemaWalk) itemsShape(s map[string]any, depth int) string {
	items, ok := s["items"].(map[string]any)
	if !ok {
		return ""
	}
	sh := w.shapes(items, depth+1)
	if len(sh) == 1 && sh[0] != "null" && !strings.HasPrefix(sh[0], "a list") {
		return " of " + strings.TrimPrefix(sh[0], "a ") + "s"
	}
	return ""
}
