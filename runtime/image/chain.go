package image

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// CredentialChain is where every berth pull finds registry credentials, in
// order: authFile (<config>/auth.json, see paths.Layout.AuthFile), then
// go-containerregistry's default keychain ($DOCKER_CONFIG/config.json or
// ~/.docker/config.json, $REGISTRY_AUTH_FILE, containers' auth.json under
// $XDG_RUNTIME_DIR or ~/.config). The first source with an entry for the
// registry wins. apply, the agent and the launcher all use this one chain,
// so a unit that pulls on its own (after a prune, or from `generate
// systemd`) sees the same credentials apply did.
//
// An authFile readable by group or others is logged as a warning, once, at
// the first lookup: a pull that never needs credentials stays quiet.
func CredentialChain(authFile string, log *slog.Logger) authn.Keychain {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	checked := &modeCheckedKeychain{path: authFile, log: log, next: FileKeychain(authFile)}
	return authn.NewMultiKeychain(checked, authn.DefaultKeychain)
}

// modeCheckedKeychain warns about a too-open auth file before reading it.
type modeCheckedKeychain struct {
	path string
	log  *slog.Logger
	next authn.Keychain
	once sync.Once
}

func (k *modeCheckedKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k *modeCheckedKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	k.once.Do(func() { warnOpenAuthFile(k.path, k.log) })
	return authn.Resolve(ctx, k.next, r)
}

// warnOpenAuthFile logs when path may be read by users other than its
// owner; registry passwords in it are then as good as public on the host.
func warnOpenAuthFile(path string, log *slog.Logger) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return // a missing file is anonymous access; a read error surfaces in the lookup
	}
	log.Warn("registry credentials file is readable by group or others; run chmod 600 on it",
		"file", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
}
