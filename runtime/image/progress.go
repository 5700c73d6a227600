package image

import (
	"context"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Progress is one layer's state during a Pull: bytes of its compressed blob
// fetched so far (Done) of Total, Cached when the store already had it, and
// Finished once it is unpacked (or failed).
type Progress struct {
	Ref      string // the reference being pulled, normalised
	Layer    string // the layer's blob digest
	Done     int64
	Total    int64
	Cached   bool
	Finished bool
}

type progressKey struct{}

// WithProgress returns a context whose Pulls report each layer's progress
// to fn, for `berth apply`'s progress bars. fn is called from the layer
// download goroutines, once per read, and must return quickly.
func WithProgress(ctx context.Context, fn func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

func progressOf(ctx context.Context) func(Progress) {
	fn, _ := ctx.Value(progressKey{}).(func(Progress))
	return fn
}

// countedLayer is a layer whose compressed stream reports the bytes read.
// It offers only the CompressedLayer methods, so partial.CompressedToLayer
// derives the uncompressed stream (gzip, zstd or plain) from the counted one.
type countedLayer struct {
	l      v1.Layer
	report func(done int64)
}

var _ partial.CompressedLayer = countedLayer{}

func (c countedLayer) Digest() (v1.Hash, error)            { return c.l.Digest() }
func (c countedLayer) Size() (int64, error)                { return c.l.Size() }
func (c countedLayer) MediaType() (types.MediaType, error) { return c.l.MediaType() }
func (c countedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := c.l.Compressed()
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, report: c.report}, nil
}

type countingReader struct {
	io.ReadCloser
	n      int64
	report func(int64)
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.n += int64(n)
		r.report(r.n)
	}
	return n, err
}

// uncompressedWithProgress opens l's uncompressed stream; with a progress
// function in ctx, the compressed bytes read are reported against desc.Size.
func uncompressedWithProgress(ctx context.Context, ref string, l v1.Layer, desc v1.Descriptor) (io.ReadCloser, func(), error) {
	fn := progressOf(ctx)
	if fn == nil {
		rc, err := l.Uncompressed()
		return rc, func() {}, err
	}
	p := Progress{Ref: ref, Layer: desc.Digest.String(), Total: desc.Size}
	fn(p)
	counted, err := partial.CompressedToLayer(countedLayer{l: l, report: func(done int64) {
		q := p
		q.Done = done
		fn(q)
	}})
	if err != nil {
		return nil, nil, err
	}
	rc, err := counted.Uncompressed()
	finish := func() {
		q := p
		q.Done, q.Finished = p.Total, true
		fn(q)
	}
	return rc, finish, err
}

// reportCached tells a progress function in ctx that a layer was present.
func reportCached(ctx context.Context, ref string, desc v1.Descriptor) {
	if fn := progressOf(ctx); fn != nil {
		fn(Progress{Ref: ref, Layer: desc.Digest.String(), Done: desc.Size, Total: desc.Size, Cached: true, Finished: true})
	}
}
