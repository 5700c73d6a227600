package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/runtime/image"
)

// TestImageHealthFromConfig: an image config's Healthcheck as docker
// writes it (nanosecond durations, StartInterval included) becomes the
// model's check; NONE, an empty test or none at all is no check.
func TestImageHealthFromConfig(t *testing.T) {
	for _, c := range []struct {
		json string
		want *model.Health
		err  string
	}{
		{json: `{"Test":["CMD-SHELL","pg_isready -U app"],"Interval":5000000000,"Timeout":2000000000,"StartPeriod":30000000000,"StartInterval":1000000000,"Retries":4}`,
			want: &model.Health{Cmd: []string{"pg_isready -U app"}, Shell: true, Interval: 5 * time.Second, Timeout: 2 * time.Second,
				StartPeriod: 30 * time.Second, StartInterval: time.Second, Retries: 4}},
		{json: `{"Test":["CMD","curl","-f","http://localhost/"]}`, want: &model.Health{Cmd: []string{"curl", "-f", "http://localhost/"}}},
		{json: `{"Test":["NONE"]}`},
		{json: `{"Test":[]}`},
		{json: `null`},
		{json: `{"Test":["CMD"]}`, err: "HEALTHCHECK CMD has no command"},
		{json: `{"Test":["RUN","x"]}`, err: `must start with CMD, CMD-SHELL or NONE, got "RUN"`},
	} {
		var hc *image.Healthcheck
		if err := json.Unmarshal([]byte(c.json), &hc); err != nil {
			t.Fatal(err)
		}
		got, err := imageHealth(hc)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.json, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, %v; want %+v", c.json, got, err, c.want)
		}
	}
}

type fakeConfigs map[string]*image.Healthcheck

func (f fakeConfigs) Healthcheck(_ context.Context, ref string) (*image.Healthcheck, error) {
	hc, ok := f[ref]
	if !ok {
		return nil, errors.New("unknown image")
	}
	return hc, nil
}

// TestSettleImageHealthEntries: a project whose service_healthy target has
// no check anywhere becomes a failed entry (its units are kept); the others
// get their image's check.
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
