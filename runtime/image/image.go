// Package image is berth's content-addressed image store: it resolves and pulls
// images with go-containerregistry, keeps manifests and configs as blobs by digest,
// unpacks every layer once into its own short-named directory (shared by all images
// that use it) and stacks those directories as overlayfs lowerdirs for a container.
//
// Layout under the store root (all state 0700):
//
//	lock                 flock: shared while pulling, exclusive while removing/pruning
//	refs.json            ref -> {digest, manifest}, replaced atomically
//	refs.lock            flock serialising read-modify-write of refs.json
//	blobs/sha256/<hex>   index, manifest and config blobs, verified against their digest
//	l/<12hex>            unpacked layer (overlay whiteouts), named by its diffID's prefix
//	l/<12hex>.id         the layer's full diffID, written before the dir is renamed in
//	locks/<12hex>        flock held while one process downloads and unpacks that layer
//	tmp/                 work area; half-done blobs and layers never leave it
package image

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrNotFound reports that an image (or one of its parts) is not in the store, or
// that the registry does not know the manifest. Test it with errors.Is.
var ErrNotFound = errors.New("image not found")

// Options configures a Store.
type Options struct {
	// Insecure lists registries (host or host:port; a bare host covers every port)
	// that may be used over plain HTTP or TLS without verification. Loopback
	// registries (127.0.0.0/8, ::1, localhost) are always allowed, as dockerd does.
	Insecure []string
	// Keychain supplies registry credentials; nil is go-containerregistry's
	// default keychain (docker's config.json, $REGISTRY_AUTH_FILE,
	// containers' auth.json under $XDG_RUNTIME_DIR or ~/.config).
	Keychain authn.Keychain
	// OnResponse, when set, sees every registry response's URL and headers
	// (e.g. auto-update reports RateLimit-* headers). It must not keep resp.
	OnResponse func(resp *http.Response)
	// Log receives debug and info records; nil discards them.
	Log *slog.Logger
}

// Image is a pulled image as a container needs it.
type Image struct {
	// Ref is the normalised reference, e.g. 127.0.0.1:5000/busybox:latest or
	// index.docker.io/library/busybox:latest.
	Ref string
	// Digest is what a HEAD on the tag returns: the index digest for a multi-arch
	// image. Update checks compare Resolve's result against it.
	Digest string
	// ManifestDigest is the linux/GOARCH image manifest actually used; equal to
	// Digest for a single-platform image.
	ManifestDigest string
	// Config is the runtime part of the image config (Entrypoint, Cmd, Env, …).
	Config v1.Config
	// Layers are absolute unpacked layer directories, lowest first, usable as
	// overlay lowerdirs with Mount.
	Layers []string
}
