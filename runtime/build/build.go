// Package build builds a service's image with buildah (Debian's buildah
// package, the builder podman and Quadlet's .build units use) and imports
// the result into berth's image store. It runs inside the service's
// transient .build.service unit, so buildah's output is that unit's
// journal. It talks to no D-Bus.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/image"
)

// Job is one build, as the .build.service unit reads it from its job file.
type Job struct {
	// Service is "project/service", for messages.
	Service string      `json:"service"`
	Build   model.Build `json:"build"`
	// Refs are the store references the built image gets: the service's
	// image and its BuildRef.
	Refs []string `json:"refs"`
	// Root and RunRoot are buildah's storage (its layer cache) and run
	// dirs, kept apart from podman's.
	Root    string `json:"root"`
	RunRoot string `json:"run_root"`
	// Work is a scratch dir for the archive and generated files.
	Work string `json:"work"`
	// Force builds even when the store holds the image of this build
	// (Refs[1]); else, as at boot from a unit file, buildah runs only when
	// it does not (or Build.Always).
	Force bool `json:"force,omitempty"`
}

// Store is the part of the image store a build needs.
type Store interface {
	ImportArchive(ctx context.Context, path string, refs ...string) (*image.Image, error)
	Insecure(registry string) bool
}

var _ Store = (*image.Store)(nil)

// ErrNoBuildah is returned when buildah is not installed.
var ErrNoBuildah = fmt.Errorf("buildah not found in $PATH: install Debian package %s", model.BuildPackage)

// Check reports ErrNoBuildah when buildah is missing.
func Check() error {
	if _, err := exec.LookPath("buildah"); err != nil {
		return ErrNoBuildah
	}
	return nil
}

// tailLines is how much of buildah's output a failure shows.
const tailLines = 8

// Run builds job with buildah, writing its output to out, and imports the
// image under job.Refs. A failed build is an error naming the Dockerfile's
// file and line of the failing step, with the tail of buildah's output.
func Run(ctx context.Context, job Job, store Store, out io.Writer) (*image.Image, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(job.Work, 0o700); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(job.Work, "build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	dockerfile, dfName := job.Build.Dockerfile, job.Build.Dockerfile
	var text []byte
	if job.Build.Inline != "" {
		dockerfile, dfName = filepath.Join(work, "Dockerfile"), "dockerfile_inline"
		text = []byte(job.Build.Inline)
		if err := os.WriteFile(dockerfile, text, 0o600); err != nil {
			return nil, err
		}
	} else if text, err = os.ReadFile(dockerfile); err != nil {
		return nil, err
	}
	conf, err := registriesConf(work, fromRegistries(string(text), job.Build.Args), store)
	if err != nil {
		return nil, err
	}
	archive := filepath.Join(work, "image.tar")
	cmd := exec.CommandContext(ctx, "buildah", Args(job, dockerfile, archive)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_REGISTRIES_CONF="+conf)
	tail := &tailWriter{n: 200}
	cmd.Stdout = io.MultiWriter(out, tail)
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return nil, failure(dfName, string(text), tail.lines(), err)
	}
	img, err := store.ImportArchive(ctx, archive, job.Refs...)
	if err != nil {
		return nil, fmt.Errorf("importing the built image: %w", err)
	}
	return img, nil
}

// Args is buildah's command line for job. runc is the runtime (crun fails
// on the hosts berth targets); the docker format keeps HEALTHCHECK, which
// the OCI format drops; a docker-archive is what go-containerregistry
// imports.
func Args(job Job, dockerfile, archive string) []string {
	b := job.Build
	args := []string{"--root", job.Root, "--runroot", job.RunRoot, "build",
		"--runtime", "runc", "--format", "docker", "--isolation", "oci",
		// Cache intermediate layers, as docker and podman build do, so
		// an edit rebuilds from the first step it changes.
		"--layers",
		// Within berth's own hard limit, which buildah's default exceeds.
		"--ulimit", "nofile=1024:1024",
		"--network", b.Network, "--file", dockerfile}
	for _, k := range sorted(b.Args) {
		args = append(args, "--build-arg", k+"="+b.Args[k])
	}
	for _, k := range sorted(b.Labels) {
		args = append(args, "--label", k+"="+b.Labels[k])
	}
	if b.Target != "" {
		args = append(args, "--target", b.Target)
	}
	for _, s := range b.Secrets {
		args = append(args, "--secret", "id="+s.ID+",src="+s.File)
	}
	return append(args, "--tag", "docker-archive:"+archive, b.Context)
}

func sorted(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// registriesConf writes the containers-registries.conf(5) buildah reads:
// short names resolve on docker.io, and the FROM registries berth treats as
// insecure (loopback, or listed in the settings) are reached over HTTP;
// every other one keeps TLS verification.
func registriesConf(dir string, registries []string, store Store) (string, error) {
	var b strings.Builder
	b.WriteString("unqualified-search-registries = [\"docker.io\"]\nshort-name-mode = \"permissive\"\n")
	for _, r := range registries {
		if store.Insecure(r) {
			fmt.Fprintf(&b, "\n[[registry]]\nlocation = %q\ninsecure = true\n", r)
		}
	}
	p := filepath.Join(dir, "registries.conf")
	return p, os.WriteFile(p, []byte(b.String()), 0o600)
}

// failure explains a failed build: the Dockerfile's file and line of the
// failing step, buildah's error and its output's tail.
func failure(dockerfile, text string, log []string, runErr error) error {
	msg := runErr.Error()
	for _, l := range slices.Backward(log) {
		if strings.HasPrefix(l, "Error: ") {
			msg = strings.TrimPrefix(l, "Error: ")
			// buildah appends a Go dump of the parsed step; the step
			// is named already.
			if i := strings.Index(msg, " &imagebuilder.Step{"); i > 0 {
				msg = msg[:i]
			}
			break
		}
	}
	var exit *exec.ExitError
	if !errors.As(runErr, &exit) {
		return fmt.Errorf("running buildah: %w", runErr)
	}
	where := dockerfile
	if line, ins := failedLine(text, log); line > 0 {
		where = fmt.Sprintf("%s:%d: %s", dockerfile, line, ins)
	}
	tail := log[max(0, len(log)-tailLines):]
	return fmt.Errorf("build failed at %s: %s\nbuild log tail:\n  %s", where, msg, strings.Join(tail, "\n  "))
}

// tailWriter keeps the last n lines written to it.
type tailWriter struct {
	n       int
	partial string
	buf     []string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	parts := strings.Split(t.partial+string(p), "\n")
	t.partial = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		t.add(l)
	}
	return len(p), nil
}

func (t *tailWriter) add(l string) {
	t.buf = append(t.buf, l)
	if len(t.buf) > t.n {
		t.buf = t.buf[len(t.buf)-t.n:]
	}
}

func (t *tailWriter) lines() []string {
	if t.partial != "" {
		return append(slices.Clone(t.buf), t.partial)
	}
	return t.buf
}
