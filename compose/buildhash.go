package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Limits of a build context berth hashes at every load; a larger one needs
// a .dockerignore.
const (
	buildHashMaxBytes   = 512 << 20
	buildHashMaxEntries = 50000
)

// buildHash is a sha256 over what a build reads: every file of the context
// that .dockerignore does not exclude (name, type, executable bit, content;
// symlink targets), the Dockerfile, and the args and target, so that an
// edit to any of them, and nothing else, rebuilds.
func buildHash(b *model.Build) (string, error) {
	h := sha256.New()
	pm, err := dockerignore(b)
	if err != nil {
		return "", err
	}
	var total int64
	entries := 0
	err = filepath.WalkDir(b.Context, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.Context, p)
		rel = filepath.ToSlash(rel)
		if rel != "." && pm != nil {
			skip, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if entries++; entries > buildHashMaxEntries {
			return fmt.Errorf("the build context has more than %d entries; exclude some in .dockerignore", buildHashMaxEntries)
		}
		fmt.Fprintf(h, "%q %v %t\n", rel, info.Mode().Type(), info.Mode()&0o111 != 0)
		switch {
		case info.Mode().IsRegular():
			if total += info.Size(); total > buildHashMaxBytes {
				return fmt.Errorf("the build context is larger than %d MiB; exclude some in .dockerignore", buildHashMaxBytes>>20)
			}
			fmt.Fprintf(h, "%d\n", info.Size())
			return hashFile(h, p)
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %q\n", t)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing the build context %s: %w", b.Context, err)
	}
	fmt.Fprint(h, "dockerfile\n")
	if b.Inline != "" {
		io.WriteString(h, b.Inline)
	} else if err := hashFile(h, b.Dockerfile); err != nil {
		return "", fmt.Errorf("hashing the Dockerfile: %w", err)
	}
	rest, _ := json.Marshal(struct {
		Args   map[string]string
		Target string
	}{b.Args, b.Target})
	h.Write(rest)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

// dockerignore reads the patterns docker would: <Dockerfile>.dockerignore
// next to the Dockerfile, else .dockerignore at the context's root; nil
// when there is none.
func dockerignore(b *model.Build) (*patternmatcher.PatternMatcher, error) {
	var candidates []string
	if b.Dockerfile != "" {
		candidates = append(candidates, b.Dockerfile+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(b.Context, ".dockerignore"))
	for _, c := range candidates {
		f, err := os.Open(c)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		return pm, nil
	}
	return nil, nil
}
