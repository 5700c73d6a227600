package compose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// positions remembers where each field of the project's files is written,
// so errors and warnings about the merged project can name file and line.
// A field set in several files (compose.yaml and its override) points at the
// last one, the one that wins the merge.
type positions struct {
	first string
	files []string
	docs  map[string]*yaml.Node
	at_   map[string]string // path → "file:line"
}

const pathSep = "\x1f"

func newPositions(first string) *positions {
	return &positions{first: first, docs: map[string]*yaml.Node{}, at_: map[string]string{}}
}

// addFile indexes one compose file and, first, the files it includes, so
// that the including file's own fields win like they do in the merge.
func (ps *positions) addFile(path string) error {
	for _, f := range ps.files {
		if f == path {
			return nil // included twice, or an include cycle compose-go reports
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil
	}
	for _, inc := range includedFiles(path, doc.Content[0]) {
		if _, err := os.Stat(inc); err != nil {
			continue // compose-go reports a missing include
		}
		if err := ps.addFile(inc); err != nil {
			return err
		}
	}
	ps.files = append(ps.files, path)
	ps.docs[path] = doc.Content[0]
	budget := maxAliasWalk
	ps.walk(path, nil, doc.Content[0], map[*yaml.Node]bool{}, &budget)
	return nil
}

// maxAliasWalk bounds the nodes indexed through aliases per file: aliases
// can make a small file a huge (or, through a self-reference, endless)
// tree. Positions only improve messages, so such a file is indexed in part.
const maxAliasWalk = 1 << 16

// walk indexes n. following holds the alias targets being walked, so an
// anchor that contains an alias to itself is not followed forever.
func (ps *positions) walk(file string, path []string, n *yaml.Node, following map[*yaml.Node]bool, budget *int) {
	if len(following) > 0 {
		if *budget <= 0 {
			return
		}
		*budget--
	}
	switch n.Kind {
	case yaml.MappingNode:
		// Merged-in fields (`<<: *anchor`) belong here, at the anchor's line.
		eachKey(n, func(k, v *yaml.Node) {
			p := append(append([]string{}, path...), k.Value)
			ps.at_[strings.Join(p, pathSep)] = fmt.Sprintf("%s:%d", file, k.Line)
			ps.walk(file, p, v, following, budget)
		})
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := append(append([]string{}, path...), strconv.Itoa(i))
			ps.at_[strings.Join(p, pathSep)] = fmt.Sprintf("%s:%d", file, v.Line)
			ps.walk(file, p, v, following, budget)
		}
	case yaml.AliasNode:
		if n.Alias != nil && !following[n.Alias] {
			following[n.Alias] = true
			ps.walk(file, path, n.Alias, following, budget)
			delete(following, n.Alias)
		}
	}
}

// at returns "file:line" of the deepest known prefix of path, or the first
// file when nothing matches (a field that came from an included file).
func (ps *positions) at(path ...string) string {
	for i := len(path); i > 0; i-- {
		if s, ok := ps.at_[strings.Join(path[:i], pathSep)]; ok {
			return s
		}
	}
	return ps.first
}

// scalar returns the raw text of a top-level scalar field of one file.
func (ps *positions) scalar(file, key string) string {
	var out string
	eachKey(ps.docs[file], func(k, v *yaml.Node) {
		if k.Value == key && v.Kind == yaml.ScalarNode {
			out = v.Value
		}
	})
	return out
}

// includedFiles lists the compose files a file's top-level include names:
// entries are a path, or a mapping whose path is a string or a list.
func includedFiles(path string, root *yaml.Node) []string {
	var out []string
	addPath := func(p string) {
		if p == "" || strings.Contains(p, "$") || strings.Contains(p, "://") {
			return // interpolated or remote: not indexed
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		out = append(out, p)
	}
	eachKey(root, func(k, v *yaml.Node) {
		if k.Value != "include" || v.Kind != yaml.SequenceNode {
			return
		}
		for _, e := range v.Content {
			switch e.Kind {
			case yaml.ScalarNode:
				addPath(e.Value)
			case yaml.MappingNode:
				eachKey(e, func(ek, ev *yaml.Node) {
					if ek.Value != "path" {
						return
					}
					if ev.Kind == yaml.ScalarNode {
						addPath(ev.Value)
					}
					for _, pv := range ev.Content {
						addPath(pv.Value)
					}
				})
			}
		}
	})
	return out
}

// composeErrPath finds the first field path compose-go names in an error
// ("services.web.deploy.resources" or "services.web.ports[0]").
var composeErrPath = regexp.MustCompile(`\b(services|networks|volumes|secrets|configs)\.[A-Za-z0-9_.\-\[\]]+`)

// composeBadKey finds the key compose-go's schema refuses in a top-level
// mapping ("services additional properties 'a b' not allowed").
var composeBadKey = regexp.MustCompile(`(?s)\b(services|networks|volumes|secrets|configs) additional properties '(.*)' not allowed`)

// findInChain matches re against err and the errors it wraps: compose-go's
// own wording may sit under a clearer message (explainSchemaError).
func findInChain(re *regexp.Regexp, err error) []string {
	for ; err != nil; err = errors.Unwrap(err) {
		if m := re.FindStringSubmatch(err.Error()); m != nil {
			return m
		}
	}
	return nil
}

// locate prefixes a compose-go error with the file and line of the field it
// names, when it names one that is written in the files.
func (ps *positions) locate(err error) error {
	if m := findInChain(composeBadKey, err); m != nil {
		// A key the schema refuses, such as a service name with a space:
		// the key's own line.
		// The schema's message escapes the key Go-style (\n) or just
		// with backslashes (\').
		keys := []string{m[2], unbackslash(m[2])}
		if u, uerr := strconv.Unquote(`"` + m[2] + `"`); uerr == nil {
			keys = append(keys, u)
		}
		for _, key := range keys {
			if at, ok := ps.at_[m[1]+pathSep+key]; ok {
				return fmt.Errorf("%s: %w", at, err)
			}
		}
		// Escapes the above do not undo (\x00 …): the first key of that
		// section the specification's name pattern refuses.
		if at, ok := ps.firstBadName(m[1]); ok {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	m := composeErrPath.FindString(err.Error())
	if m == "" {
		return err
	}
	m = strings.NewReplacer(".[", ".", "[", ".", "]", "").Replace(strings.TrimRight(m, "."))
	path := strings.Split(m, ".")
	for i := len(path); i > 1; i-- {
		if at, ok := ps.at_[strings.Join(path[:i], pathSep)]; ok {
			return fmt.Errorf("%s: %w", at, err)
		}
	}
	return err
}

// composeName is the specification's pattern for the names of services,
// networks, volumes, secrets and configs.
var composeName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// firstBadName returns the position of the first key of a top-level
// section that is not a valid name, by file and line.
func (ps *positions) firstBadName(section string) (string, bool) {
	var bad []string
	for path, at := range ps.at_ {
		name, ok := strings.CutPrefix(path, section+pathSep)
		if ok && !strings.Contains(name, pathSep) && !composeName.MatchString(name) {
			bad = append(bad, at)
		}
	}
	if len(bad) == 0 {
		return "", false
	}
	slices.SortFunc(bad, func(a, b string) int {
		af, al, _ := strings.Cut(a, ":")
		bf, bl, _ := strings.Cut(b, ":")
		if c := strings.Compare(af, bf); c != 0 {
			return c
		}
		ai, _ := strconv.Atoi(al)
		bi, _ := strconv.Atoi(bl)
		return ai - bi
	})
	return bad[0], true
}

// unbackslash undoes the schema message's escaping: \x is x.
func unbackslash(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// eachKey calls fn for every key of the mapping m as YAML sees it: an alias
// is followed, and the keys a merge key (`<<: *anchor` or `<<: [*a, *b]`)
// brings in are visited too, with the nodes written in the anchor (so their
// lines are the anchor's). A key written in m itself wins over a merged one,
// and an earlier merge source wins over a later one, as in the merge.
func eachKey(m *yaml.Node, fn func(k, v *yaml.Node)) {
	eachKeySeen(m, map[string]bool{}, 0, fn)
}

// maxMergeDepth bounds nested merges; yaml.v3 refuses alias cycles itself.
const maxMergeDepth = 32

func eachKeySeen(m *yaml.Node, seen map[string]bool, depth int, fn func(k, v *yaml.Node)) {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode || depth > maxMergeDepth {
		return
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, v)
			continue
		}
		if seen[k.Value] {
			continue
		}
		seen[k.Value] = true
		fn(k, v)
	}
	for _, src := range merges {
		src = deref(src)
		if src != nil && src.Kind == yaml.SequenceNode {
			for _, e := range src.Content {
				eachKeySeen(e, seen, depth+1, fn)
			}
			continue
		}
		eachKeySeen(src, seen, depth+1, fn)
	}
}

// isMergeKey tells the YAML merge key `<<` from a quoted "<<" string key.
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "!!merge" || k.Tag == "" && k.Style == 0)
}

// deref follows alias nodes to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

// svcAt is a service's view of positions, building its messages.
type svcAt struct {
	ps   *positions
	name string
	l    *loader
}

func (c svcAt) at(field ...string) string {
	return c.ps.at(append([]string{"services", c.name}, field...)...)
}

// errorf builds "file:line: service "x": field.sub: message".
func (c svcAt) errorf(field []string, format string, args ...any) error {
	return fmt.Errorf("%s: service %q: %s: %s", c.at(field...), c.name, strings.Join(field, "."), fmt.Sprintf(format, args...))
}

// warnf records a warning in the same shape as errorf.
func (c svcAt) warnf(field []string, format string, args ...any) {
	c.l.warns = append(c.l.warns, fmt.Sprintf("%s: service %q: field %q: %s", c.at(field...), c.name, strings.Join(field, "."), fmt.Sprintf(format, args...)))
}

var envFileMissing = regexp.MustCompile(`env file (\S+) not found: `)

// locateEnvFile names the compose file, line and service of an env_file
// that compose-go reports missing, which its error leaves out.
func (ps *positions) locateEnvFile(err error, projectDir string) error {
	m := envFileMissing.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	missing := m[1]
	for _, f := range ps.files {
		var found error
		eachKey(ps.docs[f], func(k, v *yaml.Node) {
			if k.Value != "services" {
				return
			}
			eachKey(v, func(name, svc *yaml.Node) {
				eachKey(svc, func(fk, fv *yaml.Node) {
					if fk.Value != "env_file" || found != nil {
						return
					}
					for _, e := range envFileEntries(fv) {
						for _, base := range []string{filepath.Dir(f), projectDir} {
							p := e.Value
							if !filepath.IsAbs(p) {
								p = filepath.Join(base, p)
							}
							if p == missing {
								found = &hintError{err: err, msg: fmt.Sprintf("%s:%d: service %q: env_file: %s does not exist (write {path: %s, required: false} to make it optional)",
									f, e.Line, name.Value, missing, e.Value)}
								return
							}
						}
					}
				})
			})
		})
		if found != nil {
			return found
		}
	}
	return err
}

// envFileEntries returns the path nodes of an env_file value: a string, a
// list of strings, or a list of {path, required} mappings.
func envFileEntries(v *yaml.Node) []*yaml.Node {
	v = deref(v)
	if v == nil {
		return nil
	}
	if v.Kind == yaml.ScalarNode {
		return []*yaml.Node{v}
	}
	var out []*yaml.Node
	for _, e := range v.Content {
		e = deref(e)
		if e.Kind == yaml.ScalarNode {
			out = append(out, e)
			continue
		}
		eachKey(e, func(k, pv *yaml.Node) {
			if k.Value == "path" && pv.Kind == yaml.ScalarNode {
				out = append(out, pv)
			}
		})
	}
	return out
}
