package reconciler

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
)

// unitRecords is a directory of small JSON files, one per unit under
// <state>/agent/<kind>s, so that writers never race on one file: intents
// and rollbacks.
type unitRecords[T any] struct {
	dir  string
	kind string
	unit func(T) string
}

func newUnitRecords[T any](stateDir, kind string, unit func(T) string) unitRecords[T] {
	return unitRecords[T]{dir: filepath.Join(paths.New("", stateDir, "").Agent(), kind+"s"), kind: kind, unit: unit}
}

// load reads every record by unit; a missing dir means none.
func (u unitRecords[T]) load() (map[string]T, error) {
	des, err := os.ReadDir(u.dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]T{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %ss: %w", u.kind, err)
	}
	out := map[string]T{}
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(u.dir, de.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		var rec T
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("decoding %s %s: %w", u.kind, de.Name(), err)
		}
		out[u.unit(rec)] = rec
	}
	return out, nil
}

// put stores rec (atomically), replacing its unit's last one.
func (u unitRecords[T]) put(rec T) error {
	unit := u.unit(rec)
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return fmt.Errorf("recording %s: %w", u.kind, err)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	path, err := model.Path(u.dir, unit+".json")
	if err == nil {
		err = writeFileAtomic(path, b)
	}
	if err != nil {
		return fmt.Errorf("recording %s of %s: %w", u.kind, unit, err)
	}
	return nil
}

// clear forgets unit's record, if any.
func (u unitRecords[T]) clear(unit string) error {
	path, err := model.Path(u.dir, unit+".json")
	if err == nil {
		err = os.Remove(path)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("forgetting %s of %s: %w", u.kind, unit, err)
	}
	return nil
}
