package image

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// CredentialChain is where every berth pull finds registry credentials:
// the files credentialFiles lists, in that order, each in docker's
// config.json format; the first with an entry for the registry wins, and
// none gives anonymous access. apply, the agent and the launcher all use
// this one chain, so a unit that pulls on its own (after a prune, or from
// `generate systemd`) sees the credentials apply saw.
//
// An authFile readable by group or others is logged as a warning, once, at
// the first lookup: a pull that never needs credentials stays quiet.
func CredentialChain(authFile string, log *slog.Logger) authn.Keychain {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var chain []authn.Keychain
	for _, f := range credentialFiles(authFile) {
		if f == authFile {
			chain = append(chain, &modeCheckedKeychain{path: f, log: log, next: FileKeychain(f)})
			continue
		}
		chain = append(chain, FileKeychain(f))
	}
	return authn.NewMultiKeychain(chain...)
}

// credentialFiles lists berth's authFile (<config>/auth.json), then
// docker's config.json ($DOCKER_CONFIG, else ~/.docker), podman's
// $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json and
// ~/.config/containers/auth.json. Home falls back to the user's entry in
// the passwd database: system units run without $HOME, and the launcher
// must find the same files as an apply from a root shell.
func credentialFiles(authFile string) []string {
	home := os.Getenv("HOME")
	if home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	var files []string
	add := func(p string) {
		if p != "" && !slices.Contains(files, p) {
			files = append(files, p)
		}
	}
	add(authFile)
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		add(filepath.Join(d, "config.json"))
	} else if home != "" {
		add(filepath.Join(home, ".docker", "config.json"))
	}
	add(os.Getenv("REGISTRY_AUTH_FILE"))
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		add(filepath.Join(d, "containers", "auth.json"))
	}
	configHome := os.Getenv("XDG_CONFIG_HOME")
	if configHome == "" && home != "" {
		configHome = filepath.Join(home, ".config")
	}
	if configHome != "" {
		add(filepath.Join(configHome, "containers", "auth.json"))
	}
	return files
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
