package runtime

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

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
	ensure  func(ctx context.Context, o Options, ref string) (*imageInfo, error)
	mount   func(target, upper, work string, layers []string) error
	unmount func(target string) error
	stdout  io.Writer // *os.File normally: the journal stream, handed straight to the container
	stderr  io.Writer
	// wait runs the container to completion (a oneshot unit's job)
	// instead of handing it over to systemd.
	wait bool
}

// ensureFromStore pulls ref into the store under <state>/images unless it
// is there already.
func ensureFromStore(ctx context.Context, o Options, ref string) (*imageInfo, error) {
	l, err := newLayout(o, "x")
	if err != nil {
		return nil, err
	}
	store, err := image.NewStore(l.images, image.Options{Insecure: o.Insecure, Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", l.images, err)
	}
	img, err := store.Ensure(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &imageInfo{Ref: img.Ref, Digest: img.Digest, Config: img.Config, Layers: img.Layers}, nil
}
