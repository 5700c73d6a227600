package image

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestFileKeychainAuthenticates resolves against a registry that refuses
// requests without basic auth, with credentials from a containers auth.json.
func TestFileKeychainAuthenticates(t *testing.T) {
	h := registry.New(registry.Logger(nilLogger()))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "berth" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/app:1"
	img := hostImage(t, busyboxLayer(t))
	if err := remote.Write(mustParse(t, ref), img, remote.WithAuth(&authn.Basic{Username: "berth", Password: "s3cret"})); err != nil {
		t.Fatal(err)
	}

	authFile := filepath.Join(t.TempDir(), "auth.json")
	s, err := NewStore(t.TempDir(), Options{Keychain: FileKeychain(authFile)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("without the auth file: %v; want access denied naming credentials", err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("berth:s3cret"))
	if err := os.WriteFile(authFile, fmt.Appendf(nil, `{"auths": {%q: {"auth": %q}}}`, host, auth), 0o600); err != nil {
		t.Fatal(err)
	}
	// A new store (the next berth command) reads the file.
	if s, err = NewStore(t.TempDir(), Options{Keychain: FileKeychain(authFile)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(context.Background(), ref)
	if err != nil || got != digestOf(t, img) {
		t.Errorf("Resolve with auth.json = %s, %v; want %s", got, err, digestOf(t, img))
	}
	if _, err := FileKeychain(authFile).Resolve(name.MustParseReference("busybox").Context()); err != nil {
		t.Errorf("a registry not in the file: %v", err)
	}
}
