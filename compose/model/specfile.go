package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// SpecPath is where the frozen spec of svc lives under the state dir. The
// name carries the hash, so a running unit's restarts keep reading the spec it
// was created with while apply writes the next one.
func SpecPath(stateDir string, svc *Service) string {
	return filepath.Join(stateDir, "specs", svc.ID()+"-"+svc.Hash()+".json")
}

// SaveSpec writes svc's spec atomically and returns its path.
func SaveSpec(stateDir string, svc *Service) (string, error) {
	path := SpecPath(stateDir, svc)
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
