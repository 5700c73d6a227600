package reconciler

import (
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/compose/model"
)

// pruneSpecs deletes frozen specs that neither a desired service nor a
// unit systemd still has refers to: leftovers of an apply that was killed
// between writing a spec and starting or stopping its unit. It must run
// under the reconcile lock, so no concurrent apply is between those steps.
func (r *Reconciler) pruneSpecs(entries []model.Entry, observed []Observed, memo *Memo) {
	keep := map[string]bool{}
	for _, e := range entries {
		if e.Project == nil {
			continue
		}
		for i := range e.Project.Services {
			svc := &e.Project.Services[i]
			// model.SpecPath's name, with the memoised hash.
			keep[svc.ID()+"-"+memo.hash(svc)+".json"] = true
		}
	}
	for _, o := range observed {
		if o.Project != "" {
			keep[o.Project+"-"+o.Service+"-"+o.Hash+".json"] = true
		}
	}
	dir := filepath.Join(r.StateDir, "specs")
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if de.IsDir() || keep[de.Name()] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err == nil {
			r.Log.Debug("removed stale spec", "file", de.Name())
		}
	}
}

// PruneIntents forgets intents of units no entry declares any more.
func PruneIntents(stateDir string, entries []model.Entry, in Intents) {
	declared := map[string]bool{}
	for _, e := range entries {
		if e.Project == nil {
			declared["project:"+e.Name] = true
			continue
		}
		for i := range e.Project.Services {
			s := &e.Project.Services[i]
			declared[unitName(s)] = true
		}
	}
	for unit, i := range in {
		if !declared[unit] && !declared["project:"+i.Project] {
			_ = ClearIntent(stateDir, unit)
		}
	}
}
