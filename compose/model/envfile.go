package model

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// EnvFile is an env_file read when the container starts, so its values are
// never copied into the spec; Hash makes an edit change the spec hash.
type EnvFile struct {
	Path     string `json:"path"` // absolute
	Required bool   `json:"required,omitempty"`
	Hash     string `json:"hash"` // of the content; "" for an optional file that was absent
}

// NewEnvFile reads path and returns its reference and its variables.
// A missing file that is not required yields no variables.
func NewEnvFile(path string, required bool) (EnvFile, map[string]string, error) {
	f := EnvFile{Path: path, Required: required}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return f, nil, nil
	}
	if err != nil {
		return f, nil, err
	}
	sum := sha256.Sum256(b)
	f.Hash = hex.EncodeToString(sum[:])
	vars, err := ParseEnvFile(b)
	return f, vars, err
}

// Read reads the file's variables at start.
func (f EnvFile) Read() (map[string]string, error) {
	_, vars, err := NewEnvFile(f.Path, f.Required)
	if err != nil {
		return nil, fmt.Errorf("env_file %s: %w", f.Path, err)
	}
	return vars, nil
}

// ParseEnvFile parses the plain subset of the dotenv format: NAME=VALUE
// lines, an optional "export ", '#' comments, single quotes (literal) and
// double quotes (\n, \", \\ escapes) on one line. A line without '=' is
// skipped. The loader keeps in the spec every variable this does not
// reproduce exactly as compose-go read it (interpolation, multi-line
// values), so a difference costs secrecy, never correctness.
func ParseEnvFile(b []byte) (map[string]string, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		vars[k] = envValue(strings.TrimSpace(v))
	}
	return vars, sc.Err()
}

func envValue(v string) string {
	switch {
	case len(v) >= 2 && v[0] == '\'' && strings.IndexByte(v[1:], '\'') >= 0:
		return v[1 : 1+strings.IndexByte(v[1:], '\'')]
	case len(v) >= 2 && v[0] == '"':
		var out strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			if c == '"' {
				return out.String()
			}
			if c == '\\' && i+1 < len(v) {
				i++
				switch v[i] {
				case 'n':
					out.WriteByte('\n')
				default:
					out.WriteByte(v[i])
				}
				continue
			}
			out.WriteByte(c)
		}
		return v // unterminated: as written
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v
}

// Env is the service's environment as its container sees it: its
// EnvFiles, read now, overlaid by Environment.
func (s *Service) Env() (map[string]string, error) {
	if len(s.EnvFiles) == 0 {
		return s.Environment, nil
	}
	env := map[string]string{}
	for _, f := range s.EnvFiles {
		vars, err := f.Read()
		if err != nil {
			return nil, err
		}
		for k, v := range vars {
			env[k] = v
		}
	}
	for k, v := range s.Environment {
		env[k] = v
	}
	return env, nil
}
