package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/go-archive"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
)

// Named volumes (local driver) live in <state>/volumes/<name>/_data, as in
// docker's /var/lib/docker/volumes. <name> is Mount.Source: the volume's
// full name, which the loader resolves (compose's "<project>_<key>", or its
// `name:`; a Kubernetes claim name). A file next to _data records the
// project that created the volume, so `berth down --volumes` removes exactly
// that project's volumes and never an external one another project made.
// Named volumes outlive containers, recreation and `berth down`; anonymous
// volumes live in the container's state dir and go with the container.
const (
	volumesDir      = "volumes"
	volumeDataDir   = "_data"
	volumeOwnerFile = "project"
	volumesLockFile = ".lock"
)

// volumeName is docker's rule for volume names.
var volumeName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// VolumePath is the host directory holding named volume name's data.
func VolumePath(stateDir, name string) string {
	if stateDir == "" {
		stateDir = paths.DefaultStateDir
	}
	return filepath.Join(stateDir, volumesDir, name, volumeDataDir)
}

// ensureVolume creates named volume name for project unless it exists, and
// returns its data directory. When the data directory is empty, the image's
// content at target (imageDir, inside the mounted rootfs) is copied in first,
// as docker does for a volume's first use. created reports a volume made by
// this call, so a failed start can remove it again.
func ensureVolume(stateDir, name, project, imageDir string) (data string, created bool, err error) {
	if !volumeName.MatchString(name) {
		return "", false, fmt.Errorf("invalid volume name %q: use letters, digits and _.- (not first)", name)
	}
	root := paths.New("", stateDir, "").Volumes()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", false, fmt.Errorf("creating %s: %w", root, err)
	}
	unlock, err := lockFile(filepath.Join(root, volumesLockFile))
	if err != nil {
		return "", false, err
	}
	defer unlock()

	dir, err := paths.New("", stateDir, "").Volume(name)
	if err != nil {
		return "", false, err
	}
	data = filepath.Join(dir, volumeDataDir)
	if err := os.Mkdir(dir, 0o755); err == nil {
		created = true
	} else if !errors.Is(err, fs.ErrExist) {
		return "", false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	fail := func(err error) (string, bool, error) {
		if created {
			_ = os.RemoveAll(dir)
		}
		return "", false, err
	}
	if created {
		if err := os.WriteFile(filepath.Join(dir, volumeOwnerFile), []byte(project+"\n"), 0o644); err != nil {
			return fail(fmt.Errorf("creating volume %s: %w", name, err))
		}
	}
	if err := os.Mkdir(data, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fail(fmt.Errorf("creating volume %s: %w", name, err))
	}
	if err := copyUp(imageDir, data); err != nil {
		return fail(fmt.Errorf("copying the image's %s into volume %s: %w", imageDir, name, err))
	}
	return data, created, nil
}

// ensureAnonymous makes the n-th anonymous volume of a container under its
// state dir, with the image's content at the target copied in.
func ensureAnonymous(l layout, n int, imageDir string) (string, error) {
	dir := filepath.Join(l.stateDir, "anon", strconv.Itoa(n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating anonymous volume: %w", err)
	}
	if err := copyUp(imageDir, dir); err != nil {
		return "", fmt.Errorf("copying the image's %s into an anonymous volume: %w", imageDir, err)
	}
	return dir, nil
}

// copyUp copies src's content, owners and modes into dst when dst is empty
// and src is a directory; dst itself takes src's owner and mode, as docker
// does, so an image's /var/lib/app owned by its app user stays writable by
// it. A missing src is fine: the volume just starts empty.
func copyUp(src, dst string) error {
	if src == "" {
		return nil
	}
	st, err := os.Stat(src)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !st.IsDir()) {
		return nil
	}
	if err != nil {
		return err
	}
	empty, err := isEmptyDir(dst)
	if err != nil || !empty {
		return err
	}
	if err := archive.NewDefaultArchiver().CopyWithTar(src, dst); err != nil {
		return err
	}
	var sys unix.Stat_t
	if err := unix.Stat(src, &sys); err != nil {
		return err
	}
	if err := os.Lchown(dst, int(sys.Uid), int(sys.Gid)); err != nil {
		return err
	}
	return unix.Chmod(dst, sys.Mode&0o7777)
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// imagePath is target inside the mounted rootfs, with symlinks resolved
// inside it.
func imagePath(rootfs, target string) (string, error) {
	p, err := securejoin.SecureJoin(rootfs, target)
	if err != nil {
		return "", fmt.Errorf("resolving %s in the image: %w", target, err)
	}
	return p, nil
}

// subPath joins a mount's sub_path to its source, refusing paths that leave
// it (absolute or through ".."); symlinks are resolved inside the source.
func subPath(source, sub string) (string, error) {
	if sub == "" {
		return source, nil
	}
	clean := filepath.Clean(sub)
	if filepath.IsAbs(sub) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("sub_path %q leaves the volume", sub)
	}
	p, err := securejoin.SecureJoin(source, clean)
	if err != nil {
		return "", fmt.Errorf("resolving sub_path %q: %w", sub, err)
	}
	return p, nil
}

// RemoveProjectVolumes removes the named volumes created for project (by
// berth run, recorded in the volume's owner file) and returns their names.
// Volumes another project created, used here as external, stay. Call it only
// once the project's containers are stopped.
func RemoveProjectVolumes(stateDir, project string) ([]string, error) {
	if stateDir == "" {
		stateDir = paths.DefaultStateDir
	}
	root := paths.New("", stateDir, "").Volumes()
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	unlock, err := lockFile(filepath.Join(root, volumesLockFile))
	if err != nil {
		return nil, err
	}
	defer unlock()
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		owner, err := os.ReadFile(filepath.Join(root, e.Name(), volumeOwnerFile))
		if err != nil || strings.TrimSpace(string(owner)) != project {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("removing volume %s: %w", e.Name(), err))
			continue
		}
		removed = append(removed, e.Name())
	}
	return removed, errors.Join(errs...)
}

// lockFile takes an exclusive flock on path, so two containers starting at
// once do not both copy into the same new volume.
func lockFile(path string) (func(), error) {
	return paths.Lock(context.Background(), path, paths.Exclusive)
}

// hostSource is the host directory or file a bind or volume mount gets,
// prepared: named volumes are created (and filled from the image), anonymous
// ones made in the container's state dir, missing bind sources created as
// directories (docker compose's short syntax does the same), and sub_path
// applied. made lists volumes created here, for cleanup on failure.
func hostSource(stateDir string, l layout, svc *model.Service, i int, rootfs string) (src string, made string, err error) {
	m := svc.Mounts[i]
	switch m.Type {
	case model.MountBind:
		if !filepath.IsAbs(m.Source) {
			return "", "", fmt.Errorf("bind source %q is not an absolute path", m.Source)
		}
		if _, err := os.Stat(m.Source); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return "", "", fmt.Errorf("creating bind source %s: %w", m.Source, err)
			}
		}
		src, err := subPath(m.Source, m.SubPath)
		if err != nil {
			return "", "", err
		}
		if _, err := os.Stat(src); err != nil {
			return "", "", fmt.Errorf("bind source: %w", err)
		}
		return src, "", nil
	case model.MountVolume:
		imageDir := ""
		if m.SubPath == "" {
			if imageDir, err = imagePath(rootfs, m.Target); err != nil {
				return "", "", err
			}
		}
		var data string
		if m.Source == "" {
			data, err = ensureAnonymous(l, i, imageDir)
		} else {
			var created bool
			data, created, err = ensureVolume(stateDir, m.Source, svc.Project, imageDir)
			if created {
				made = m.Source
			}
		}
		if err != nil {
			return "", made, err
		}
		if m.FSGroup != nil {
			if err := applyFSGroup(data, *m.FSGroup); err != nil {
				return "", made, err
			}
		}
		src, err := subPath(data, m.SubPath)
		if err != nil {
			return "", made, err
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", made, fmt.Errorf("creating sub_path %s: %w", m.SubPath, err)
		}
		return src, made, nil
	}
	return "", "", nil
}
