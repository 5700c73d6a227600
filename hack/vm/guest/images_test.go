//go:build vmguest

package guest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/hack/e2e"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// appUID is the image's USER, as in most real images: not root.
const appUID = 1000

// entry is one file or directory of a layer, with its owner.
type entry struct {
	path     string
	content  string // a directory when empty and dir is set
	dir      bool
	mode     int64
	uid, gid int
}

// layer builds an uncompressed layer from entries.
func layer(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.path, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: time.Unix(1700000000, 0)}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, e.path+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.content))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appImage is a user's kind of image: busybox plus sdhelper, an `app`
// user (uid 1000) that the config's USER names, a data directory that
// user owns (for a named volume's copy-up) and a HEALTHCHECK.
func appImage(t testing.TB) v1.Image {
	t.Helper()
	sdhelper, err := os.ReadFile(guestDir + "/sdhelper")
	if err != nil {
		t.Fatal(err)
	}
	base, err := e2e.BuildBusybox(e2e.WithConfig(func(c *v1.Config) {
		c.User = "1000:1000"
		c.WorkingDir = "/home/app"
		c.Healthcheck = &v1.HealthConfig{
			Test:     []string{"CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1"},
			Interval: 2 * time.Second, Timeout: 2 * time.Second, Retries: 3,
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layer(t,
		entry{path: "etc/passwd", content: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n", mode: 0o644},
		entry{path: "etc/group", content: "root:x:0:\nnogroup:x:65534:\napp:x:1000:\n", mode: 0o644},
		entry{path: "home", dir: true, mode: 0o755},
		entry{path: "home/app", dir: true, mode: 0o755, uid: appUID, gid: appUID},
		entry{path: "data", dir: true, mode: 0o755, uid: appUID, gid: appUID},
		entry{path: "bin/sdhelper", content: string(sdhelper), mode: 0o755},
	))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// busybox is the plain root busybox image of the e2e harness, with a
// version file that tells updates apart.
func busybox(t testing.TB, version string) v1.Image {
	t.Helper()
	img, err := e2e.BuildBusybox(e2e.WithFile("/version", []byte(version+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
