package reconciler

import (
	"context"
	"log/slog"
	"path"
	"slices"
	"sync"
	"testing"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/units"
)

// fileManager is fakeManager with runtime unit files, as cmd's manager
// writes an accepting socket's template.
type fileManager struct {
	fakeManager
	fmu   sync.Mutex
	files map[string]bool
}

var _ RuntimeUnitFiles = (*fileManager)(nil)

func (f *fileManager) Start(ctx context.Context, u *units.Unit) error {
	f.fmu.Lock()
	for _, file := range u.Files {
		f.files[file.Name] = true
	}
	f.fmu.Unlock()
	return f.fakeManager.Start(ctx, u)
}

func (f *fileManager) RemoveRuntimeUnit(_ context.Context, name string) error {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	delete(f.files, name)
	return nil
}

func (f *fileManager) RuntimeUnits(_ context.Context, pattern string) ([]string, error) {
	f.fmu.Lock()
	defer f.fmu.Unlock()
	var out []string
	for n := range f.files {
		if ok, _ := path.Match(pattern, n); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func acceptService() model.Service {
	return model.Service{Project: "p", Name: "inetd", Image: "busybox", NetworkMode: "none",
		Sockets: []model.Socket{{Listen: "127.0.0.1:8080", Accept: true}}}
}

// TestPlanAcceptIsItsSocket: an accepting service is planned by its
// socket, which must be listening: inactive is recreated, unlike a
// socket-activated service waiting for its first client.
func TestPlanAcceptIsItsSocket(t *testing.T) {
	svc := acceptService()
	sock := Observed{Unit: "berth-p-inetd.socket", Project: "p", Service: "inetd", Hash: svc.Hash(), ActiveState: "active"}
	p := MakePlan([]model.Entry{project("p", svc)}, []Observed{sock}, nil)
	if len(p.Changes) != 1 || p.Changes[0].Action != Keep || p.Changes[0].Unit != sock.Unit {
		t.Fatalf("listening socket: %+v", p.Changes)
	}
	sock.ActiveState = "inactive"
	p = MakePlan([]model.Entry{project("p", svc)}, []Observed{sock}, nil)
	if p.Changes[0].Action != Recreate {
		t.Errorf("inactive socket: %v", actions(p))
	}
}

// TestApplyAcceptTemplate: create writes the template with the socket;
// removing the service removes both; a stale template no declared service
// or kept socket owns is pruned, a declared one is kept.
func TestApplyAcceptTemplate(t *testing.T) {
	f := &fileManager{files: map[string]bool{}}
	r := &Reconciler{Manager: f, StateDir: t.TempDir(), Units: units.Config{Binary: "/bin/berth"}, Log: slog.New(slog.DiscardHandler)}
	svc := acceptService()
	entries := []model.Entry{project("p", svc)}
	if err := r.Apply(t.Context(), MakePlan(entries, nil, nil)); err != nil {
		t.Fatal(err)
	}
	if !f.files["berth-p-inetd@.service"] || !slices.Contains(f.started, "berth-p-inetd.socket") {
		t.Fatalf("create: files %v, started %v", f.files, f.started)
	}
	obs, err := f.Observe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f.files["berth-gone-old@.service"] = true
	r.pruneTemplates(t.Context(), entries, MakePlan(entries, obs, nil))
	if !f.files["berth-p-inetd@.service"] || f.files["berth-gone-old@.service"] {
		t.Errorf("after prune: %v", f.files)
	}
	rm := &Plan{Changes: []Change{{Action: Remove, Project: "p", Service: "inetd", Unit: "berth-p-inetd.socket"}}}
	if err := r.Apply(t.Context(), rm); err != nil {
		t.Fatal(err)
	}
	if len(f.files) != 0 || !slices.Contains(f.stopped, "berth-p-inetd.socket") {
		t.Errorf("remove: files %v, stopped %v", f.files, f.stopped)
	}
}
