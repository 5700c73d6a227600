package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestApplyFSGroup: a volume given to a pod's fsGroup has that group on
// every entry, setgid group-writable directories and group-writable files,
// so a non-root user holding the group can write it; files created later
// inherit the group.
func TestApplyFSGroup(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := applyFSGroup(dir, 2000); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]uint32{dir: unix.S_ISGID | 0o775, filepath.Join(dir, "sub"): unix.S_ISGID | 0o775, filepath.Join(dir, "sub", "f"): 0o664} {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Gid != 2000 || st.Mode&0o7777 != want {
			t.Errorf("%s: gid %d mode %o, want gid 2000 mode %o", p, st.Gid, st.Mode&0o7777, want)
		}
	}
	// A second start finds the root as it should be and walks nothing.
	if err := os.Chown(filepath.Join(dir, "sub", "f"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := applyFSGroup(dir, 2000); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, "sub", "f"), &st); err != nil || st.Gid != 0 {
		t.Errorf("the walk ran again although the root matched (gid %d, %v)", st.Gid, err)
	}
}
