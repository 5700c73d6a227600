package autoupdate

import (
	"context"
	"errors"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

type fakeUnits []Unit

func (f fakeUnits) ListUnits(context.Context) ([]Unit, error) { return f, nil }

type fakeSpecs map[string]*model.Service // by hash

func (f fakeSpecs) ForUnit(_ context.Context, project, service, hash string) (*model.Service, error) {
	if s, ok := f[hash]; ok && s.Project == project && s.Name == service {
		return s, nil
	}
	return nil, errors.New("no spec " + hash)
}

type fakeDigests map[string]string // by service ID

func (f fakeDigests) RunningDigest(_ context.Context, svc *model.Service) (string, error) {
	if d, ok := f[svc.ID()]; ok {
		return d, nil
	}
	return "", errors.New("no state")
}

// TestUnitSourceTargets: every unit berth made with an image is a target
// carrying its frozen spec and running digest; a unit whose spec cannot be
// read is a target with Err; units not berth's and pod sandboxes are not.
func TestUnitSourceTargets(t *testing.T) {
	web := &model.Service{Project: "p", Name: "web", Image: "reg/web:1"}
	idle := &model.Service{Project: "p", Name: "idle", Image: "reg/idle:1"}
	src := UnitSource{
		Units: fakeUnits{
			{Name: "berth-p-web.service", Project: "p", Service: "web", Hash: "h1"},
			{Name: "berth-p-idle.service", Project: "p", Service: "idle", Hash: "h2"},
			{Name: "berth-p-gone.service", Project: "p", Service: "gone", Hash: "h3", Image: "reg/gone:1"},
			{Name: "berth-pod.service", Project: "pod", Service: "pod", Hash: "h4", NoImage: true},
			{Name: "berth-stray.service"},
		},
		Specs:      fakeSpecs{"h1": web, "h2": idle},
		Containers: fakeDigests{"p-web": "sha256:w1"},
	}
	got, err := src.Targets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("targets %+v; want web, idle and gone", got)
	}
	if got[0].Service != web || got[0].RunningDigest != "sha256:w1" || got[0].Err != nil {
		t.Errorf("web: %+v", got[0])
	}
	if got[1].Service != idle || got[1].RunningDigest != "" || got[1].Err != nil {
		t.Errorf("idle (no container state): %+v", got[1])
	}
	if g := got[2]; g.Err == nil || g.Service.Image != "reg/gone:1" || g.Service.Project != "p" || g.Service.Name != "gone" {
		t.Errorf("gone (no spec): %+v", g)
	}
}
