package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// checkCommand finds cmd as the container's exec would (PATH from env,
// relative names from cwd, symlinks resolved inside root), so a missing
// command gives 127 and one that is not executable 126 with a clear
// message, as docker does, instead of libcontainer's init error.
func checkCommand(root, cwd string, env []string, cmd string) error {
	var candidates []string
	switch {
	case strings.HasPrefix(cmd, "/"):
		candidates = []string{cmd}
	case strings.Contains(cmd, "/"):
		candidates = []string{path.Join(cwd, cmd)}
	default:
		for _, dir := range strings.Split(pathOf(env), ":") {
			if dir != "" {
				candidates = append(candidates, path.Join(dir, cmd))
			}
		}
	}
	var found string
	for _, c := range candidates {
		p, err := securejoin.SecureJoin(root, c)
		if err != nil {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode()&0o111 != 0 {
			return nil
		}
		found = c
	}
	if found != "" {
		return &ExecError{Code: ExitCannotInvoke, Err: fmt.Errorf("%s: permission denied", found)}
	}
	if strings.Contains(cmd, "/") {
		return &ExecError{Code: ExitNotFound, Err: fmt.Errorf("%s: %w", cmd, fs.ErrNotExist)}
	}
	return &ExecError{Code: ExitNotFound, Err: fmt.Errorf("%s: %w in the container's PATH", cmd, errNoExecutable)}
}

var errNoExecutable = errors.New("executable file not found")

func pathOf(env []string) string {
	p := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	return p
}
