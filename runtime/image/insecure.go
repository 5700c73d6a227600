package image

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// registryPolicy decides, per registry, whether plain HTTP and unverified TLS are
// allowed. Loopback registries are (dockerd's default); any other registry must
// present a verified certificate unless the operator listed it as insecure.
type registryPolicy struct {
	listed map[string]bool // host or host:port, lower case
}

func newRegistryPolicy(insecure []string) registryPolicy {
	p := registryPolicy{listed: map[string]bool{}}
	for _, r := range insecure {
		r = strings.ToLower(strings.TrimSpace(r))
		r = strings.TrimPrefix(strings.TrimPrefix(r, "http://"), "https://")
		r = strings.TrimSuffix(r, "/")
		if r != "" {
			p.listed[r] = true
		}
	}
	return p
}

// insecure reports whether registry (host or host:port, as in a URL or an image
// reference) may be reached over plain HTTP or unverified TLS.
func (p registryPolicy) insecure(registry string) bool {
	registry = strings.ToLower(registry)
	host := hostOf(registry)
	if p.listed[registry] || p.listed[host] {
		return true
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostOf strips the port (and IPv6 brackets) from host[:port].
func hostOf(registry string) string {
	if h, _, err := net.SplitHostPort(registry); err == nil {
		return h
	}
	return strings.Trim(registry, "[]")
}

// nameOptions are the name parsing options for a registry: name.Insecure lets
// go-containerregistry fall back to http for the registries the policy allows.
func (p registryPolicy) nameOptions(registry string) []name.Option {
	if p.insecure(registry) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// policyTransport is the Store's one HTTP transport. It enforces the policy on
// every request, redirects included: go-containerregistry on its own would also
// speak plain HTTP to RFC 1918 addresses, which berth refuses unless listed.
type policyTransport struct {
	policy     registryPolicy
	verified   http.RoundTripper
	unverified http.RoundTripper
	onResponse func(*http.Response) // Options.OnResponse
}

func newPolicyTransport(p registryPolicy) *policyTransport {
	base := remote.DefaultTransport.(*http.Transport)
	verified := base.Clone()
	unverified := base.Clone()
	unverified.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for registries the operator listed or loopback
	return &policyTransport{policy: p, verified: verified, unverified: unverified}
}

// RoundTrip implements http.RoundTripper.
func (t *policyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	insecure := t.policy.insecure(req.URL.Host)
	if req.URL.Scheme == "http" && !insecure {
		return nil, fmt.Errorf("registry %s: plain HTTP refused; it needs verified TLS unless listed as insecure", req.URL.Host)
	}
	rt := t.verified
	if insecure {
		rt = t.unverified
	}
	resp, err := rt.RoundTrip(req)
	if err == nil && t.onResponse != nil {
		t.onResponse(resp)
	}
	return resp, err
}
