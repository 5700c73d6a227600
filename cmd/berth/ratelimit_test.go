package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/runtime/image"
)

// TestRateLimitHeadersReported: a registry that sends Docker Hub style
// rate-limit headers has them reported per host after a check.
func TestRateLimitHeadersReported(t *testing.T) {
	h := registry.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("RateLimit-Limit", "100;w=21600")
		w.Header().Set("RateLimit-Remaining", "76;w=21600")
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/app:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	limits := &rateLimits{}
	s, err := image.NewStore(t.TempDir(), image.Options{OnResponse: limits.record})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (updateImages{s, limits}).Resolve(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	got := (updateImages{s, limits}).RateLimits()[host]
	if got != "ratelimit-limit: 100;w=21600, ratelimit-remaining: 76;w=21600" {
		t.Errorf("rate limits for %s = %q", host, got)
	}
}
