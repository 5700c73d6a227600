package reconciler

import (
	"context"
	"time"
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

func intentRecords(stateDir string) unitRecords[Intent] {
	return newUnitRecords(stateDir, "intent", func(in Intent) string { return in.Unit })
}

// LoadIntents reads every recorded intent; a missing dir means none.
func LoadIntents(ctx context.Context, stateDir string) (Intents, error) {
	return intentRecords(stateDir).load()
}

// SetIntent records in (atomically).
func SetIntent(ctx context.Context, stateDir string, in Intent) error {
	return intentRecords(stateDir).put(in)
}

// ClearIntent forgets the intent recorded for unit, if any.
func ClearIntent(ctx context.Context, stateDir, unit string) error {
	return intentRecords(stateDir).clear(unit)
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
