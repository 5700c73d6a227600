package paths

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// Specs is the store of frozen specs: one JSON file per service and spec
// hash, <state>/specs/<project>-<service>-<hash>.json. A unit's ExecStart=
// names its file, so restarts (and reboots) run exactly what was applied.
type Specs struct{ dir string }

// SpecStore is the spec store under the state dir.
func (l Layout) SpecStore() Specs { return Specs{dir: l.Specs()} }

// Path is where the spec of svc lives. A project or service name that is
// not a plain file name (see [model.CheckID]) is an error.
func (s Specs) Path(svc *model.Service) (string, error) {
	return s.PathOf(svc.Project, svc.Name, svc.Hash())
}

// PathOf is Path for a service known by project, name and hash (a unit's
// environment carries them).
func (s Specs) PathOf(project, service, hash string) (string, error) {
	if err := model.CheckID(project, service); err != nil {
		return "", fmt.Errorf("spec path: %w", err)
	}
	return s.file(project+"-"+service, hash)
}

func (s Specs) file(id, hash string) (string, error) {
	if err := model.Elem(id); err != nil {
		return "", fmt.Errorf("spec path: %w", err)
	}
	if !isHash(hash) {
		return "", fmt.Errorf("spec path of %s: %q is not a spec hash", id, hash)
	}
	return Path(s.dir, id+"-"+hash+".json")
}

// Save writes svc's spec atomically (0600 in a 0700 dir: a spec holds the
// service's environment) and returns its path.
func (s Specs) Save(ctx context.Context, svc *model.Service) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	path, err := s.Path(svc)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", fmt.Errorf("writing spec: %w", err)
	}
	b, err := json.MarshalIndent(svc, "", "  ")
	if err != nil {
		return "", err
	}
	if err := saveCredentials(ctx, path, svc); err != nil {
		return "", fmt.Errorf("writing spec: %w", err)
	}
	if err := WriteFile(path, b, 0o600); err != nil {
		return "", fmt.Errorf("writing spec: %w", err)
	}
	return path, nil
}

// Load reads the spec of project/service with hash as it is on disk.
func (s Specs) Load(ctx context.Context, project, service, hash string) (*model.Service, error) {
	path, err := s.PathOf(project, service, hash)
	if err != nil {
		return nil, err
	}
	return LoadSpec(ctx, path)
}

// ForUnit loads the spec a running unit was created with, named by the
// project, service and spec hash its environment carries, and checks that
// the file still hashes to its name.
func (s Specs) ForUnit(ctx context.Context, project, service, hash string) (*model.Service, error) {
	if hash == "" {
		return nil, fmt.Errorf("unit of %s/%s carries no spec hash", project, service)
	}
	path, err := s.PathOf(project, service, hash)
	if err != nil {
		return nil, fmt.Errorf("unit of %s/%s: %w", project, service, err)
	}
	svc, err := LoadSpec(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("loading the spec %s/%s runs: %w", project, service, err)
	}
	if got, err := s.Path(svc); err != nil || got != path {
		return nil, fmt.Errorf("spec %s does not match its unit (it hashes to %s)", path, got)
	}
	return svc, nil
}

// Files lists the specs of the service with id: <id>-<16 hex digits>.json.
// It compares names, never globs, so an ID holding '*' or '?' matches
// nothing but itself, and "web" never matches the files of "web-2".
func (s Specs) Files(ctx context.Context, id string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := model.Elem(id); err != nil {
		return nil, fmt.Errorf("listing specs: %w", err)
	}
	des, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing specs: %w", err)
	}
	var out []string
	for _, de := range des {
		if i, _, ok := splitName(de.Name()); ok && i == id {
			out = append(out, filepath.Join(s.dir, de.Name()))
		}
	}
	return out, nil
}

// RemoveService deletes the specs of project/service except the file
// except (a path Save returned; "" keeps none).
func (s Specs) RemoveService(ctx context.Context, project, service, except string) error {
	if err := model.CheckID(project, service); err != nil {
		return fmt.Errorf("removing specs: %w", err)
	}
	files, err := s.Files(ctx, project+"-"+service)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f == except {
			continue
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := removeCredentials(f); err != nil {
			return err
		}
	}
	return nil
}

// Prune deletes every file in the store that keep does not claim by the ID
// and hash in its name, and returns the names it removed. Files that are no
// spec at all (a temp file a crash left) go too. It must run under the
// reconcile lock, so no concurrent apply is between writing a spec and
// starting its unit.
func (s Specs) Prune(ctx context.Context, keep func(id, hash string) bool) []string {
	if ctx.Err() != nil {
		return nil
	}
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, de := range des {
		name := de.Name()
		if de.IsDir() {
			// A spec's credentials go with it.
			spec, ok := credentialsSpec(name)
			if !ok {
				continue
			}
			if id, hash, ok := splitName(spec); ok && keep(id, hash) {
				continue
			}
			if os.RemoveAll(filepath.Join(s.dir, name)) == nil {
				removed = append(removed, name)
			}
			continue
		}
		if id, hash, ok := splitName(name); ok && keep(id, hash) {
			continue
		}
		if os.Remove(filepath.Join(s.dir, name)) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// splitName parses <id>-<hash>.json.
func splitName(name string) (id, hash string, ok bool) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok || len(base) < 18 || base[len(base)-17] != '-' {
		return "", "", false
	}
	id, hash = base[:len(base)-17], base[len(base)-16:]
	return id, hash, isHash(hash)
}

// LoadSpec reads a spec file written by [Specs.Save] (a unit's --spec).
func LoadSpec(ctx context.Context, path string) (*model.Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	var svc model.Service
	if err := json.Unmarshal(b, &svc); err != nil {
		return nil, fmt.Errorf("decoding spec %s: %w", path, err)
	}
	return &svc, nil
}
