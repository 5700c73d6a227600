package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is the static busybox (Debian's busybox-static) test images
// are built from; there is no network to Docker Hub in CI.
const BusyboxPath = "/bin/busybox"

// imageEpoch is the fixed timestamp of every file and of the image config,
// so the same options always give the same digest.
var imageEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// File is one file of an extra image layer.
type File struct {
	Path    string // absolute path inside the image, e.g. /srv/version
	Content []byte
	Mode    fs.FileMode // permission bits; 0 means 0644; with fs.ModeDir a directory (0 bits: 0755)
	// UID and GID own the entry (default root), e.g. an image's data dir
	// owned by its non-root USER.
	UID, GID int
}

// Layer is an extra layer on top of the busybox layer: files to add and
// paths to delete (written as OCI whiteouts, .wh.<name>).
type Layer struct {
	Files  []File
	Delete []string
}

// ImageOption changes what BuildBusybox builds.
type ImageOption func(*imageConfig)

type imageConfig struct {
	config v1.Config
	layers []Layer
	oci    bool
}

// WithCmd sets the config's Cmd (default ["sh"]).
func WithCmd(cmd ...string) ImageOption {
	return func(c *imageConfig) { c.config.Cmd = cmd }
}

// WithEntrypoint sets the config's Entrypoint.
func WithEntrypoint(ep ...string) ImageOption {
	return func(c *imageConfig) { c.config.Entrypoint = ep }
}

// WithEnv sets KEY=VALUE variables, replacing ones with the same key.
func WithEnv(env ...string) ImageOption {
	return func(c *imageConfig) {
		for _, kv := range env {
			k, _, _ := strings.Cut(kv, "=")
			c.config.Env = slices.DeleteFunc(c.config.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
			c.config.Env = append(c.config.Env, kv)
		}
	}
}

// WithLabels adds labels to the config (e.g. io.containers.autoupdate).
func WithLabels(labels map[string]string) ImageOption {
	return func(c *imageConfig) {
		if c.config.Labels == nil {
			c.config.Labels = map[string]string{}
		}
		for k, v := range labels {
			c.config.Labels[k] = v
		}
	}
}

// WithConfig edits the config directly (User, WorkingDir, ExposedPorts,
// Healthcheck …).
func WithConfig(edit func(*v1.Config)) ImageOption {
	return func(c *imageConfig) { edit(&c.config) }
}

// WithFile adds a layer holding one file; handy to give v1 and v2 of a test
// image distinct digests.
func WithFile(path string, content []byte) ImageOption {
	return WithLayer(Layer{Files: []File{{Path: path, Content: content}}})
}

// WithLayer adds a layer; layers stack in the order given.
func WithLayer(l Layer) ImageOption {
	return func(c *imageConfig) { c.layers = append(c.layers, l) }
}

// WithOCIMediaTypes builds an OCI image instead of a Docker v2 schema 2 one.
func WithOCIMediaTypes() ImageOption {
	return func(c *imageConfig) { c.oci = true }
}

// BuildBusybox builds, in memory and deterministically, an image whose
// first layer is /bin/busybox with a symlink for every applet in /bin,
// /etc/passwd and /etc/group with root and nobody, and /tmp; Cmd ["sh"],
// PATH set. Options add layers and change the config.
func BuildBusybox(opts ...ImageOption) (v1.Image, error) {
	cfg := imageConfig{config: v1.Config{
		Cmd: []string{"sh"},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}}
	for _, o := range opts {
		o(&cfg)
	}
	mt := types.DockerLayer
	if cfg.oci {
		mt = types.OCILayer
	}
	base, err := busyboxLayer(mt)
	if err != nil {
		return nil, err
	}
	layers := []v1.Layer{base}
	for i, l := range cfg.layers {
		layer, err := extraLayer(l, mt)
		if err != nil {
			return nil, fmt.Errorf("building extra layer %d: %w", i+1, err)
		}
		layers = append(layers, layer)
	}
	img := empty.Image
	if cfg.oci {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = runtime.GOARCH
	cf.OS = "linux"
	cf.Created = v1.Time{Time: imageEpoch}
	cf.Config = cfg.config
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting config: %w", err)
	}
	return img, nil
}

func busyboxLayer(mt types.MediaType) (v1.Layer, error) {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s (install busybox-static): %w", BusyboxPath, err)
	}
	list, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	var tb tarBuilder
	tb.dir("bin", 0o755)
	tb.dir("etc", 0o755)
	tb.dir("tmp", 0o1777)
	tb.file("bin/busybox", bin, 0o755)
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			tb.symlink("bin/"+applet, "busybox")
		}
	}
	tb.file("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
	tb.file("etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	tb.dir("root", 0o700)
	return tb.layer(mt)
}

func extraLayer(l Layer, mt types.MediaType) (v1.Layer, error) {
	var tb tarBuilder
	seen := map[string]bool{}
	parents := func(p string) {
		var chain []string
		for d := path.Dir(p); d != "." && d != "/" && d != ""; d = path.Dir(d) {
			chain = append(chain, d)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			if !seen[chain[i]] {
				seen[chain[i]] = true
				tb.dir(chain[i], 0o755)
			}
		}
	}
	for _, f := range l.Files {
		p := strings.TrimPrefix(path.Clean(f.Path), "/")
		if p == "" || p == "." {
			return nil, fmt.Errorf("invalid file path %q", f.Path)
		}
		parents(p)
		if f.Mode&fs.ModeDir != 0 {
			mode := f.Mode.Perm() | f.Mode&(fs.ModeSetgid|fs.ModeSticky)
			if mode.Perm() == 0 {
				mode |= 0o755
			}
			seen[p] = true
			tb.ownedDir(p, tarMode(mode), f.UID, f.GID)
			continue
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		tb.write(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: tarMode(mode), Size: int64(len(f.Content)),
			Uid: f.UID, Gid: f.GID}, f.Content)
	}
	for _, d := range l.Delete {
		p := strings.TrimPrefix(path.Clean(d), "/")
		if p == "" || p == "." {
			return nil, fmt.Errorf("invalid delete path %q", d)
		}
		parents(p)
		tb.file(path.Join(path.Dir(p), ".wh."+path.Base(p)), nil, 0o644)
	}
	return tb.layer(mt)
}

// tarBuilder writes an uncompressed layer tar with fixed owners and times.
type tarBuilder struct {
	buf bytes.Buffer
	tw  *tar.Writer
	err error
}

func (b *tarBuilder) write(h *tar.Header, content []byte) {
	if b.err != nil {
		return
	}
	if b.tw == nil {
		b.tw = tar.NewWriter(&b.buf)
	}
	h.ModTime, h.Format = imageEpoch, tar.FormatPAX
	if h.Uid == 0 {
		h.Uname = "root"
	}
	if h.Gid == 0 {
		h.Gname = "root"
	}
	if b.err = b.tw.WriteHeader(h); b.err == nil && len(content) > 0 {
		_, b.err = b.tw.Write(content)
	}
}

func (b *tarBuilder) dir(name string, mode int64) {
	b.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
}

func (b *tarBuilder) ownedDir(name string, mode int64, uid, gid int) {
	b.write(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid}, nil)
}

// tarMode is m's permission, setuid/setgid and sticky bits as a tar header
// mode.
func tarMode(m fs.FileMode) int64 {
	out := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		out |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		out |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		out |= 0o1000
	}
	return out
}

func (b *tarBuilder) file(name string, content []byte, mode int64) {
	b.write(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(content))}, content)
}

func (b *tarBuilder) symlink(name, target string) {
	b.write(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}, nil)
}

func (b *tarBuilder) layer(mt types.MediaType) (v1.Layer, error) {
	if b.tw == nil {
		b.tw = tar.NewWriter(&b.buf)
	}
	if b.err == nil {
		b.err = b.tw.Close()
	}
	if b.err != nil {
		return nil, fmt.Errorf("writing layer tar: %w", b.err)
	}
	data := b.buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(mt))
	if err != nil {
		return nil, fmt.Errorf("making layer: %w", err)
	}
	return l, nil
}
