package image

import (
	"net/http"
	"strings"
	"testing"
)

func TestInsecureRegistryDecision(t *testing.T) {
	p := newRegistryPolicy([]string{"registry.internal:5000", "10.1.2.3"})
	for _, c := range []struct {
		registry string
		insecure bool
		scheme   string // what go-containerregistry tries last (http means it may fall back)
	}{
		{"127.0.0.1:5000", true, "http"},
		{"127.0.0.2:5000", true, "http"},
		{"localhost:5000", true, "http"},
		{"localhost", true, "http"},
		{"[::1]:5000", true, "http"},
		{"registry.example.com", false, "https"},
		{"registry.example.com:5000", false, "https"},
		{"registry.internal:5000", true, "http"},
		{"registry.internal:5001", false, "https"},
		{"10.1.2.3:5000", true, "http"},  // bare host listed: every port
		{"10.9.9.9:5000", false, "http"}, // ggcr would use http for RFC 1918; the transport refuses it
	} {
		if got := p.insecure(c.registry); got != c.insecure {
			t.Errorf("insecure(%s) = %v, want %v", c.registry, got, c.insecure)
		}
		s := &Store{policy: p}
		r, err := s.parse(c.registry + "/app:1")
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Context().Scheme(); got != c.scheme {
			t.Errorf("scheme for %s = %s, want %s", c.registry, got, c.scheme)
		}
	}
}

// The transport refuses plain HTTP to registries that need TLS before dialling,
// whatever go-containerregistry's own heuristics would do.
func TestTransportRefusesPlainHTTPToSecureRegistries(t *testing.T) {
	tr := newPolicyTransport(newRegistryPolicy(nil))
	for _, u := range []string{"http://registry.example.com/v2/", "http://10.9.9.9:5000/v2/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		_, err := tr.RoundTrip(req)
		if err == nil || !strings.Contains(err.Error(), "plain HTTP refused") {
			t.Errorf("GET %s = %v, want plain HTTP refused", u, err)
		}
	}
}
