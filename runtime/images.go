package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/image"
)

// imageInfo is what the launcher needs from an image.
type imageInfo struct {
	Ref    string
	Digest string
	Config v1.Config
	Layers []string // unpacked layer dirs, lowest first
}

// deps are the launcher's links to the outside; Run uses the real image
// store and systemd's stdio, tests swap parts of them.
type deps struct {
	ensure  func(ctx context.Context, o Options, ref string, policy model.PullPolicy) (*imageInfo, error)
	mount   func(target, upper, work string, layers []string) error
	unmount func(target string) error
	stdout  io.Writer // *os.File normally: the journal stream, handed straight to the container
	stderr  io.Writer
	// wait runs the container to completion (a oneshot unit's job)
	// instead of handing it over to systemd.
	wait bool
	// stdin is a run-to-completion container's (berth run -i: what the
	// caller handed systemd); nil is /dev/null.
	stdin io.Reader
	// consoleSocket gives the container a pty whose master goes there
	// (berth run -t); "" is none.
	consoleSocket string
}

// ensureFromStore makes ref present in the store under <state>/images as
// the service's pull_policy says (ensureByPolicy).
func ensureFromStore(ctx context.Context, o Options, ref string, policy model.PullPolicy) (*imageInfo, error) {
	l, err := newLayout(o, "x")
	if err != nil {
		return nil, err
	}
	store, err := image.NewStore(l.images, image.Options{Insecure: o.Insecure,
		Keychain: image.CredentialChain(o.AuthFile, o.Log), Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", l.images, err)
	}
	img, err := ensureByPolicy(ctx, store, ref, policy)
	if err != nil {
		return nil, err
	}
	return &imageInfo{Ref: img.Ref, Digest: img.Digest, Config: img.Config, Layers: img.Layers}, nil
}

// imageSource is the part of the image store a start needs.
type imageSource interface {
	Get(ctx context.Context, ref string) (*image.Image, error)
	Pull(ctx context.Context, ref string) (*image.Image, error)
	Ensure(ctx context.Context, ref string) (*image.Image, error)
}

var _ imageSource = (*image.Store)(nil)

// ensureByPolicy carries out compose's pull_policy at a start: always
// pulls (a failed pull fails the start, as in docker compose), never only
// takes what the store has, and missing pulls when the image is absent.
func ensureByPolicy(ctx context.Context, s imageSource, ref string, policy model.PullPolicy) (*image.Image, error) {
	switch policy {
	case model.PullAlways:
		return s.Pull(ctx, ref)
	case model.PullNever:
		img, err := s.Get(ctx, ref)
		if errors.Is(err, image.ErrNotFound) {
			return nil, fmt.Errorf("image %s is not in the store and pull_policy is never (berth pull it, or change the policy): %w", ref, err)
		}
		return img, err
	}
	return s.Ensure(ctx, ref)
}
