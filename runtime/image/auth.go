package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/docker/cli/cli/config"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// FileKeychain reads credentials from one auth file in docker's config.json
// format, which containers' auth.json shares ({"auths": {"host": {"auth":
// base64(user:pass)}}}). A missing file gives anonymous access, so a
// keychain can name a file that is only written later. The file is read at
// each lookup; a Store asks once per repository and then reuses the answer.
func FileKeychain(path string) authn.Keychain { return fileKeychain{path} }

type fileKeychain struct{ path string }

func (k fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k fileKeychain) ResolveContext(_ context.Context, r authn.Resource) (authn.Authenticator, error) {
	f, err := os.Open(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry credentials: %w", err)
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("parsing registry credentials %s: %w", k.path, err)
	}
	key := r.RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey // docker keeps Docker Hub under its v1 URL
	}
	ac, err := cf.GetAuthConfig(key)
	if err != nil {
		return nil, fmt.Errorf("registry credentials %s for %s: %w", k.path, key, err)
	}
	if hub, ok := cf.AuthConfigs["docker.io"]; ok && key == authn.DefaultAuthKey && ac.Username == "" && ac.Auth == "" && ac.IdentityToken == "" {
		ac = hub // podman login keeps Docker Hub under docker.io
	}
	cfg := authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}
	if cfg == (authn.AuthConfig{}) {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(cfg), nil
}
