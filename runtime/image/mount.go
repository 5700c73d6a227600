package image

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount stacks layers (lowest first, as in Image.Layers) read-only under the
// writable upper dir as an overlayfs at target, creating target, upper and work
// (0700) when missing. upper becomes the container's "/": it takes the owner and
// mode of the topmost layer's root (the image's "/", usually root 0755). upper and work must
// be on the same filesystem. Layer dir names must be short: mount(2) takes the
// whole option string in one page, which is why the store names layers l/<12hex>.
func Mount(target, upper, work string, layers []string) error {
	if len(layers) == 0 {
		return fmt.Errorf("mounting overlay at %s: no layers", target)
	}
	for _, p := range append([]string{target, upper, work}, layers...) {
		if strings.ContainsAny(p, ",:") {
			return fmt.Errorf("mounting overlay at %s: path %q contains ',' or ':', which overlay options cannot carry", target, p)
		}
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{target, 0o755}, {upper, 0o755}, {work, 0o700}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("mounting overlay at %s: %w", target, err)
		}
	}
	lower := slices.Clone(layers)
	slices.Reverse(lower) // overlay lists the topmost lowerdir first
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"), upper, work)
	if indexFeatureKnown() {
		// The index feature ties an upper dir to the exact lower dirs it was first
		// used with and fails later mounts that differ; berth reuses layers freely.
		opts += ",index=off"
	}
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("mounting overlay at %s: option string of %d bytes exceeds one page (%d layers)",
			target, len(opts), len(layers))
	}
	if err := copyRootAttrs(upper, layers[len(layers)-1]); err != nil {
		return fmt.Errorf("mounting overlay at %s: %w", target, err)
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting overlay at %s (%d layers): %w", target, len(layers), err)
	}
	return nil
}

// copyRootAttrs gives upper the owner and mode of the topmost layer's root.
// The overlay's "/" is the upper dir itself, so its owner and mode are what
// every process in the container sees for "/": a 0700 upper (the state
// dirs above it are 0700) would leave a non-root USER unable to list "/" or
// run anything. The dirs above upper keep their mode: the kernel resolves
// them once, with the mounter's credentials.
func copyRootAttrs(upper, topLayer string) error {
	var st unix.Stat_t
	if err := unix.Stat(topLayer, &st); err != nil {
		return fmt.Errorf("reading the image's root directory: %w", err)
	}
	if err := unix.Lchown(upper, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("setting the owner of %s: %w", upper, err)
	}
	// After chown, which clears set-id bits.
	if err := unix.Chmod(upper, st.Mode&0o7777); err != nil {
		return fmt.Errorf("setting the mode of %s: %w", upper, err)
	}
	return nil
}

// indexFeatureKnown reports whether this kernel's overlayfs has the index option;
// older ones reject unknown options.
func indexFeatureKnown() bool {
	_, err := os.Stat("/sys/module/overlay/parameters/index")
	return err == nil
}

// Unmount detaches the mount at target lazily (MNT_DETACH), so busy files do not
// block cleanup. It is idempotent: a target that is not mounted or does not exist
// is not an error.
func Unmount(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", target, err)
}
