package model

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestImageHealthFromConfig: an image config's Healthcheck as docker
// writes it (nanosecond durations, StartInterval included) becomes the
// model's check; NONE, an empty test or none at all is no check.
func TestImageHealthFromConfig(t *testing.T) {
	for _, c := range []struct {
		json string
		want *Health
		err  string
	}{
		{json: `{"Test":["CMD-SHELL","pg_isready -U app"],"Interval":5000000000,"Timeout":2000000000,"StartPeriod":30000000000,"StartInterval":1000000000,"Retries":4}`,
			want: &Health{Cmd: []string{"pg_isready -U app"}, Shell: true, Interval: 5 * time.Second, Timeout: 2 * time.Second,
				StartPeriod: 30 * time.Second, StartInterval: time.Second, Retries: 4}},
		{json: `{"Test":["CMD","curl","-f","http://localhost/"]}`, want: &Health{Cmd: []string{"curl", "-f", "http://localhost/"}}},
		{json: `{"Test":["NONE"]}`},
		{json: `{"Test":[]}`},
		{json: `null`},
		{json: `{"Test":["CMD"]}`, err: "HEALTHCHECK CMD has no command"},
		{json: `{"Test":["RUN","x"]}`, err: `must start with CMD, CMD-SHELL or NONE, got "RUN"`},
	} {
		var hc *ImageHealthcheck
		if err := json.Unmarshal([]byte(c.json), &hc); err != nil {
			t.Fatal(err)
		}
		got, err := hc.Health()
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

// TestSettleEntriesImageHealth: a project whose service_healthy target has
// no check anywhere becomes a failed entry (its units are kept); the others
// get their image's check; each image is read once.
func TestSettleEntriesImageHealth(t *testing.T) {
	checks := map[string]*Health{"db:1": {Cmd: []string{"true"}}, "plain:1": nil}
	reads := map[string]int{}
	lookup := func(ref string) (*Health, error) {
		reads[ref]++
		h, ok := checks[ref]
		if !ok {
			return nil, errors.New("unknown image")
		}
		return h, nil
	}
	good := &Project{Name: "good", Services: []Service{{Name: "db", Image: "db:1", ImageHealth: &Health{}}}}
	bad := &Project{Name: "bad", Services: []Service{
		{Name: "db", Image: "plain:1", ImageHealth: &Health{}},
		{Name: "web", Image: "plain:1", DependsOn: map[string]Dependency{"db": {Condition: ConditionHealthy}}},
	}}
	also := &Project{Name: "also", Services: []Service{{Name: "db", Image: "db:1", ImageHealth: &Health{}}}}
	entries := []Entry{{Name: "good", Path: "/etc/berth/good", Project: good}, {Name: "bad", Path: "/etc/berth/bad", Project: bad},
		{Name: "also", Path: "/etc/berth/also", Project: also}}
	failed := SettleEntriesImageHealth(entries, lookup)
	if s := entries[0].Project.Services[0]; entries[0].Err != nil || s.Health == nil || s.HealthSource != HealthFromImage {
		t.Errorf("good: %v, %+v", entries[0].Err, s)
	}
	if entries[1].Project != nil || entries[1].Err == nil || !strings.HasPrefix(entries[1].Err.Error(), "/etc/berth/bad: service web: depends_on db") {
		t.Errorf("bad: project %v, err %v", entries[1].Project, entries[1].Err)
	}
	if !reflect.DeepEqual(failed, []int{1}) || reads["db:1"] != 1 {
		t.Errorf("failed %v, image reads %v; want [1] and db:1 read once", failed, reads)
	}
}
