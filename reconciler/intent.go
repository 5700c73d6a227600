package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
)

// Intent is what a user asked for one unit through `berth stop`; the agent
// and apply respect it instead of "repairing" the stopped unit.
type Intent struct {
	Unit    string    `json:"unit"`
	Project string    `json:"project"`
	Service string    `json:"service"`
	Stopped bool      `json:"stopped"`
	At      time.Time `json:"at"`
}

// Intents are the recorded intents by unit name, kept as one small file per
// unit under <state>/agent/intents so that writers never race on one file.
type Intents map[string]Intent

func intentDir(stateDir string) string {
	return filepath.Join(paths.New("", stateDir, "").Agent(), "intents")
}

// LoadIntents reads every recorded intent; a missing dir means none.
func LoadIntents(ctx context.Context, stateDir string) (Intents, error) {
	des, err := os.ReadDir(intentDir(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return Intents{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading intents: %w", err)
	}
	out := Intents{}
	for _, de := range des {
		if !strings.HasSuffix(de.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(intentDir(stateDir), de.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		var in Intent
		if err := json.Unmarshal(b, &in); err != nil {
			return nil, fmt.Errorf("decoding intent %s: %w", de.Name(), err)
		}
		out[in.Unit] = in
	}
	return out, nil
}

// SetIntent records in (atomically).
func SetIntent(ctx context.Context, stateDir string, in Intent) error {
	if err := os.MkdirAll(intentDir(stateDir), 0o700); err != nil {
		return fmt.Errorf("recording intent: %w", err)
	}
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	path, err := model.Path(intentDir(stateDir), in.Unit+".json")
	if err != nil {
		return fmt.Errorf("recording intent for %s: %w", in.Unit, err)
	}
	if err := writeFileAtomic(path, b); err != nil {
		return fmt.Errorf("recording intent for %s: %w", in.Unit, err)
	}
	return nil
}

// ClearIntent forgets the intent recorded for unit, if any.
func ClearIntent(ctx context.Context, stateDir, unit string) error {
	path, err := model.Path(intentDir(stateDir), unit+".json")
	if err != nil {
		return fmt.Errorf("clearing intent for %s: %w", unit, err)
	}
	err = os.Remove(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clearing intent for %s: %w", unit, err)
	}
	return nil
}

// RespectIntents turns the create and recreate of every unit the user
// stopped into "unchanged": `berth start` resumes it. Removals proceed: a
// deleted file removes its services whatever their intent.
func (p *Plan) RespectIntents(in Intents) {
	for i := range p.Changes {
		c := &p.Changes[i]
		if !in[c.Unit].Stopped || (c.Action != Create && c.Action != Recreate) {
			continue
		}
		c.Action, c.Repair = Keep, ""
		c.Reason = "stopped by `berth stop`; `berth start` resumes it"
	}
}
