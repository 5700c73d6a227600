package kube

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlLine finds yaml.v3's "line N: " in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError rewrites a yaml.v3 error as "file:line: message" lines, the
// form every other error of the loader has; what names an object (kind
// and name) goes after the line. A tab in the indentation of the line
// yaml.v3 stops at is said plainly: its own message does not.
func yamlError(file, object string, content []byte, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	lines := strings.Split(string(content), "\n")
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		sm := yamlLine.FindStringSubmatch(strings.TrimSpace(m))
		if sm == nil {
			out = append(out, fmt.Sprintf("%s: %s%s", file, object, m))
			continue
		}
		n, _ := strconv.Atoi(sm[1])
		msg := sm[2]
		// yaml.v3 may name the line before the tab's (where the block
		// it breaks starts).
		for _, c := range []int{n, n + 1} {
			if c >= 1 && c <= len(lines) && tabIndented(lines[c-1]) && (c == n || strings.Contains(msg, "tab")) {
				n, msg = c, "a tab indents this line; YAML indents with spaces only"
				break
			}
		}
		out = append(out, fmt.Sprintf("%s:%d: %s%s", file, n, object, msg))
	}
	return errors.New(strings.Join(out, "\n"))
}

func tabIndented(l string) bool {
	return strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t")
}
