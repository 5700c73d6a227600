package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SpecPath is where the frozen spec of svc lives under the state dir. The
// name carries the hash, so a running unit's restarts keep reading the spec it
// was created with while apply writes the next one. A project or service
// name that is not a plain file name (see [CheckID]) is an error.
func SpecPath(stateDir string, svc *Service) (string, error) {
	return SpecPathOf(stateDir, svc.Project, svc.Name, svc.Hash())
}

// SpecPathOf is SpecPath for a service known by project, name and hash (a
// unit's environment carries them).
func SpecPathOf(stateDir, project, service, hash string) (string, error) {
	if err := CheckID(project, service); err != nil {
		return "", fmt.Errorf("spec path: %w", err)
	}
	return Path(stateDir, "specs", project+"-"+service+"-"+hash+".json")
}

// SpecFiles lists the frozen specs of the service with id under the state
// dir: <id>-<16 hex digits>.json. It compares names, never globs, so an ID
// holding '*' or '?' matches nothing but itself, and "web" never matches
// the files of "web-2".
func SpecFiles(stateDir, id string) ([]string, error) {
	dir, err := Path(stateDir, "specs")
	if err != nil {
		return nil, err
	}
	if err := Elem(id); err != nil {
		return nil, fmt.Errorf("listing specs: %w", err)
	}
	des, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing specs: %w", err)
	}
	var out []string
	for _, de := range des {
		hash, ok := strings.CutPrefix(de.Name(), id+"-")
		if !ok {
			continue
		}
		hash, ok = strings.CutSuffix(hash, ".json")
		if ok && isHash(hash) {
			out = append(out, filepath.Join(dir, de.Name()))
		}
	}
	return out, nil
}

func isHash(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// SaveSpec writes svc's spec atomically and returns its path.
func SaveSpec(stateDir string, svc *Service) (string, error) {
	path, err := SpecPath(stateDir, svc)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(svc, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("writing spec %s: %w", path, err)
	}
	return path, os.Rename(tmp, path)
}

// LoadSpec reads a spec written by SaveSpec.
func LoadSpec(path string) (*Service, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	var s Service
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decoding spec %s: %w", path, err)
	}
	return &s, nil
}
