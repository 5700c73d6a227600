package model

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// Elem checks that s is one clean path element: not empty, not "." or "..",
// without '/' and without control characters. Every name that becomes part
// of a path under berth's state or run dir (a project, a service ID, a
// volume) passes through it, so none can climb out of its directory.
func Elem(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return fmt.Errorf("%q is not a file name", s)
	case strings.ContainsRune(s, '/'):
		return fmt.Errorf("%q contains '/'", s)
	case len(s) > 255:
		return fmt.Errorf("%q is longer than 255 bytes", s)
	}
	if err := NoControl(s); err != nil {
		return err
	}
	if filepath.Clean(s) != s {
		return fmt.Errorf("%q is not a clean file name", s)
	}
	return nil
}

// Path joins dir and elems, each of which must pass [Elem]. It is how every
// path under the state and run dirs that carries a name from the model is
// built.
func Path(dir string, elems ...string) (string, error) {
	for _, e := range elems {
		if err := Elem(e); err != nil {
			return "", fmt.Errorf("building a path under %s: %w", dir, err)
		}
	}
	return filepath.Join(append([]string{dir}, elems...)...), nil
}

// NoControl refuses control characters (newline, carriage return, NUL,
// escape …): systemd ends a unit-file line at '\n' and at '\r', and no name
// or value berth writes into a unit has a use for any of them.
func NoControl(s string) error {
	for i, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%q contains the control character %U at byte %d", s, r, i)
		}
	}
	return nil
}

// projectName is the config dir's rule for project names.
var projectName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// serviceName is Compose's rule for service names (its JSON schema's
// pattern); Kubernetes container names, DNS-1123 labels, are a subset.
var serviceName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// CheckID checks a service's project and name, which make its ID, unit
// name and the names of its files.
func CheckID(project, service string) error {
	if !projectName.MatchString(project) {
		return fmt.Errorf("project name %q must be lowercase letters, digits, '-' or '_', starting with a letter or digit", project)
	}
	if !serviceName.MatchString(service) || service == "." || service == ".." {
		return fmt.Errorf("service name %q must be letters, digits, '.', '-' or '_'", service)
	}
	return Elem(project + "-" + service)
}
