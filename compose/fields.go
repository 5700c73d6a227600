package compose

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// supportedServiceKeys lists the service fields berth maps today. Every other
// field is warned about with its file and line, never silently dropped.
var supportedServiceKeys = map[string]bool{
	"image": true, "command": true, "entrypoint": true, "environment": true,
	"env_file": true, "working_dir": true, "user": true, "restart": true,
	"stop_signal": true, "stop_grace_period": true, "mem_limit": true,
	"cpus": true, "pids_limit": true, "labels": true, "init": true,
	"network_mode": true, "deploy": true,
}

// supportedDeployKeys are the parts of deploy: that map to the unit.
var supportedDeployKeys = map[string]bool{"resources": true}

var supportedTopKeys = map[string]bool{"services": true, "name": true}

// checkYAML reports a syntax error with the file and line, before compose-go
// sees the file, so the message is about the user's text.
func checkYAML(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		// yaml.v3 errors read "yaml: line N: ..."
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// unsupportedFields walks one compose file and names each field berth does
// not support, as "file:line: service "x": field "y" is not supported".
func unsupportedFields(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 {
		return nil, nil // syntax errors are reported by checkYAML
	}
	var warns []string
	warn := func(n *yaml.Node, format string, args ...any) {
		warns = append(warns, fmt.Sprintf("%s:%d: ", path, n.Line)+fmt.Sprintf(format, args...))
	}
	eachKey(doc.Content[0], func(k, v *yaml.Node) {
		switch {
		case strings.HasPrefix(k.Value, "x-"):
		case k.Value == "version":
			warn(k, "top-level field %q is obsolete and ignored", k.Value)
		case !supportedTopKeys[k.Value]:
			warn(k, "top-level field %q is not supported yet and is ignored", k.Value)
		case k.Value == "services":
			eachKey(v, func(name, svc *yaml.Node) {
				eachKey(svc, func(f, fv *yaml.Node) {
					switch {
					case strings.HasPrefix(f.Value, "x-"):
					case !supportedServiceKeys[f.Value]:
						warn(f, "service %q: field %q is not supported yet and is ignored", name.Value, f.Value)
					case f.Value == "deploy":
						eachKey(fv, func(d, _ *yaml.Node) {
							if !supportedDeployKeys[d.Value] {
								warn(d, "service %q: field \"deploy.%s\" is not supported yet and is ignored", name.Value, d.Value)
							}
						})
					}
				})
			})
		}
	})
	return warns, nil
}

func eachKey(m *yaml.Node, fn func(k, v *yaml.Node)) {
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		fn(m.Content[i], m.Content[i+1])
	}
}
