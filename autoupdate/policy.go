// Package autoupdate decides which berth services run an image older than the
// one their tag now names. It sees services through the compose model and the
// registry and local image store through small interfaces, so it never talks
// to systemd or the runtime itself.
package autoupdate

import (
	"fmt"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// Label is the service label that selects a service's policy. It is podman's,
// so Compose files written for `podman auto-update` work unchanged.
const Label = "io.containers.autoupdate"

// Policy says what auto-update compares a running container's image with.
type Policy string

// The policies berth knows. Disabled is the default: a service is only ever
// updated when its file asks for it.
const (
	// PolicyRegistry compares with the digest the registry serves for the
	// image's tag now (one HEAD request per distinct image).
	PolicyRegistry Policy = "registry"
	// PolicyLocal compares with the digest the local image store records for
	// the tag, e.g. after a manual `berth pull`; no registry is contacted.
	PolicyLocal Policy = "local"
	// PolicyDisabled never updates.
	PolicyDisabled Policy = "disabled"
)

// Policies lists the valid policies in the order error messages show them.
var Policies = []Policy{PolicyRegistry, PolicyLocal, PolicyDisabled}

// ParsePolicy parses a policy name. The empty string is PolicyDisabled;
// "image" is accepted as podman's older name for PolicyRegistry.
func ParsePolicy(s string) (Policy, error) {
	switch v := strings.TrimSpace(s); v {
	case "":
		return PolicyDisabled, nil
	case "image":
		return PolicyRegistry, nil
	default:
		for _, p := range Policies {
			if string(p) == v {
				return p, nil
			}
		}
		names := make([]string, len(Policies))
		for i, p := range Policies {
			names[i] = string(p)
		}
		return "", fmt.Errorf("unknown auto-update policy %q (valid: %s)", s, strings.Join(names, ", "))
	}
}

// PolicyOf returns svc's effective policy: Service.AutoUpdate (x-berth
// autoupdate, or a Kubernetes annotation the kube loader mapped) when set,
// otherwise its Label; a service with neither is PolicyDisabled. The error
// names the service and where the value came from, and lists the valid values.
func PolicyOf(svc *model.Service) (Policy, error) {
	from, v := "label "+Label, svc.Labels[Label]
	if svc.AutoUpdate != "" {
		from, v = "x-berth autoupdate", svc.AutoUpdate
	}
	p, err := ParsePolicy(v)
	if err != nil {
		return "", fmt.Errorf("service %s/%s: %s: %w", svc.Project, svc.Name, from, err)
	}
	return p, nil
}

// Pinned reports whether image names a digest (name@sha256:…): its content
// can never change, so it is reported and never updated.
func Pinned(image string) bool { return strings.Contains(image, "@") }
