package runtime

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fsGroupMode is what a volume's root has once given to an fsGroup:
// setgid, so new files inherit the group, and group read-write-search.
const fsGroupMode = fs.ModeSetgid | 0o070

// applyFSGroup gives volume dir to group gid as the kubelet does for a pod's
// fsGroup (SetVolumeOwnership): every file and directory gets the group and
// group read-write (directories also search and setgid), so a non-root
// process holding that supplementary group can write the volume. Like the
// kubelet's fsGroupChangePolicy OnRootMismatch, the walk is skipped when
// the root already has the group and mode, so a large volume is not walked
// on every start.
func applyFSGroup(dir string, gid int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("applying fsGroup %d to %s: %w", gid, dir, err)
	}
	if int(st.Gid) == gid && st.Mode&(unix.S_ISGID|0o070) == unix.S_ISGID|0o070 {
		return nil
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, gid); err != nil {
			return err
		}
		mode := info.Mode() | 0o060
		if d.IsDir() {
			mode |= fsGroupMode
		}
		// After chown, which clears set-id bits.
		return os.Chmod(p, mode)
	})
	if err != nil {
		return fmt.Errorf("applying fsGroup %d to %s: %w", gid, dir, err)
	}
	return nil
}
