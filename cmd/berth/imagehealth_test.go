package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/runtime/image"
)

type fakeConfigs map[string]*image.Healthcheck

func (f fakeConfigs) Healthcheck(_ context.Context, ref string) (*image.Healthcheck, error) {
	hc, ok := f[ref]
	if !ok {
		return nil, errors.New("unknown image")
	}
	return hc, nil
}

// TestSettleImageHealthEntries: the store's image configs reach the model:
// a project whose service_healthy target has no check anywhere becomes a
// failed entry (its units are kept); the others get their image's check.
func TestSettleImageHealthEntries(t *testing.T) {
	store := fakeConfigs{
		"db:1":    {Test: []string{"CMD", "true"}},
		"plain:1": nil,
	}
	good := &model.Project{Name: "good", Services: []model.Service{{Name: "db", Image: "db:1", ImageHealth: &model.Health{}}}}
	bad := &model.Project{Name: "bad", Services: []model.Service{
		{Name: "db", Image: "plain:1", ImageHealth: &model.Health{}},
		{Name: "web", Image: "plain:1", DependsOn: map[string]model.Dependency{"db": {Condition: model.ConditionHealthy}}},
	}}
	entries := []model.Entry{{Name: "good", Path: "/etc/berth/good", Project: good}, {Name: "bad", Path: "/etc/berth/bad", Project: bad}}
	settleImageHealth(context.Background(), store, slog.New(slog.NewTextHandler(io.Discard, nil)), entries)
	if s := entries[0].Project.Services[0]; entries[0].Err != nil || s.Health == nil || s.HealthSource != model.HealthFromImage {
		t.Errorf("good: %v, %+v", entries[0].Err, s)
	}
	if entries[1].Project != nil || entries[1].Err == nil || !strings.HasPrefix(entries[1].Err.Error(), "/etc/berth/bad: service web: depends_on db") {
		t.Errorf("bad: project %v, err %v", entries[1].Project, entries[1].Err)
	}
}
