package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Limits of what contentHash reads: a bind-mounted config is small; a tree
// beyond these is data, and hashing it on every reload would be wasteful.
const (
	hashMaxBytes   = 64 << 20
	hashMaxEntries = 10000
)

// contentHash is a sha256 over a bind source: a file's mode and content, or
// for a directory every entry's relative name, type, and content (files) or
// target (symlinks), in lexical order. Symlinks are not followed.
func contentHash(path string, fi os.FileInfo) (string, error) {
	h := sha256.New()
	var total int64
	entries := 0
	add := func(rel string, info fs.FileInfo, full string) error {
		entries++
		if entries > hashMaxEntries {
			return fmt.Errorf("more than %d entries", hashMaxEntries)
		}
		// Type and executable bit only, as git records them, so a checkout
		// under another umask hashes the same.
		fmt.Fprintf(h, "%q %v %t\n", rel, info.Mode().Type(), info.Mode()&0o111 != 0)
		switch {
		case info.Mode().IsRegular():
			total += info.Size()
			if total > hashMaxBytes {
				return fmt.Errorf("more than %d MiB", hashMaxBytes>>20)
			}
			f, err := os.Open(full)
			if err != nil {
				return err
			}
			defer f.Close()
			fmt.Fprintf(h, "%d\n", info.Size())
			if _, err := io.Copy(h, f); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(full)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", t)
		}
		return nil
	}
	if !fi.IsDir() {
		if err := add(".", fi, path); err != nil {
			return "", err
		}
	} else {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(path, p)
			return add(filepath.ToSlash(rel), info, p)
		})
		if err != nil {
			return "", err
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
