package compose

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// compose-go prints its notices (an unset variable, a YAML 1.1 boolean, the
// obsolete `version`, external.name) through logrus, without a line and
// once per call site. berth finds the same cases in the files itself and
// reports them as warnings with file and line, each once; cmd/berth
// silences logrus.

// notices returns the warnings about the files' text that compose-go
// would print: variables that are not set, and YAML 1.1 booleans.
func notices(ps *positions, environ map[string]string) []string {
	var warns []string
	for _, f := range ps.files {
		walkScalars(ps.docs[f], nil, func(path []string, n *yaml.Node) {
			for _, v := range unsetVariables(n.Value, environ) {
				warns = append(warns, fmt.Sprintf("%s:%d: %svariable %q is not set; a blank string is used", f, n.Line, fieldOf(path), v))
			}
			if b, ok := yaml11Bool(path, n); ok {
				warns = append(warns, fmt.Sprintf("%s:%d: %s%q is read as %t; YAML 1.2 booleans are true and false", f, n.Line, fieldOf(path), n.Value, b))
			}
		})
	}
	return warns
}

// walkScalars calls fn for every scalar value under n with its key path.
// Anchored nodes are visited where they are written, aliases not again, so
// each text is reported once.
func walkScalars(n *yaml.Node, path []string, fn func(path []string, n *yaml.Node)) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		fn(path, n)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkScalars(n.Content[i+1], append(path[:len(path):len(path)], n.Content[i].Value), fn)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			walkScalars(v, append(path[:len(path):len(path)], fmt.Sprintf("[%d]", i)), fn)
		}
	}
}

// fieldOf names the field a path points at for a message: `service "web":
// field "image": `, or `field "x-common.image": ` outside services.
func fieldOf(path []string) string {
	join := func(p []string) string { return strings.ReplaceAll(strings.Join(p, "."), ".[", "[") }
	if len(path) >= 3 && path[0] == "services" {
		return fmt.Sprintf("service %q: field %q: ", path[1], join(path[2:]))
	}
	if len(path) == 0 {
		return ""
	}
	return fmt.Sprintf("field %q: ", join(path))
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// unsetVariables lists the variables of s that interpolation looks up
// without a default and that environ does not set: `$X` and `${X}`, and
// those inside a default or alternative value that is used. `$$` is a
// literal dollar; `${X:?msg}` is compose-go's error, not a notice.
func unsetVariables(s string, environ map[string]string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		switch c := s[i+1]; {
		case c == '$':
			i++
		case c == '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return out // compose-go reports the invalid template
			}
			out = append(out, unsetInBraces(s[i+2:end], environ)...)
			i = end
		default:
			name := varName.FindString(s[i+1:])
			if _, ok := environ[name]; name != "" && !ok {
				out = append(out, name)
			}
			i += len(name)
		}
	}
	return out
}

// unsetInBraces checks the inside of one ${…}.
func unsetInBraces(expr string, environ map[string]string) []string {
	name := varName.FindString(expr)
	if name == "" {
		return nil
	}
	v, set := environ[name]
	op := expr[len(name):]
	switch {
	case op == "":
		if !set {
			return []string{name}
		}
	case strings.HasPrefix(op, ":-"):
		if v == "" {
			return unsetVariables(op[2:], environ)
		}
	case strings.HasPrefix(op, "-"):
		if !set {
			return unsetVariables(op[1:], environ)
		}
	case strings.HasPrefix(op, ":+"):
		if v != "" {
			return unsetVariables(op[2:], environ)
		}
	case strings.HasPrefix(op, "+"):
		if set {
			return unsetVariables(op[1:], environ)
		}
	}
	return nil
}

// closingBrace finds the '}' closing a '${' whose inside starts at from.
func closingBrace(s string, from int) int {
	depth := 1
	for i := from; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// boolFields are the boolean fields compose-go casts from strings (its
// interpolation type casts), by their last key.
var boolFields = map[string]bool{
	"init": true, "privileged": true, "read_only": true, "tty": true, "stdin_open": true,
	"oom_kill_disable": true, "external": true, "internal": true, "attachable": true,
	"enable_ipv4": true, "enable_ipv6": true, "required": true, "create_host_path": true,
	"nocopy": true, "disable": true, "use_service_name_alias": true,
}

// yaml11Bool tells whether n is a YAML 1.1 boolean word (yes, no, on, off,
// y, n) written for a boolean field; compose-go accepts it with a notice.
func yaml11Bool(path []string, n *yaml.Node) (bool, bool) {
	if len(path) == 0 || n.Tag != "!!str" {
		return false, false
	}
	last := path[len(path)-1]
	// restart is a boolean only inside depends_on; the service's is a policy.
	dependsRestart := last == "restart" && len(path) >= 4 && path[len(path)-3] == "depends_on"
	if !boolFields[last] && !dependsRestart {
		return false, false
	}
	switch strings.ToLower(n.Value) {
	case "y", "yes", "on":
		return true, true
	case "n", "no", "off":
		return false, true
	}
	return false, false
}
