package compose

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// TestImageHealthRequest: which services ask for their image's HEALTHCHECK,
// with which overrides, as docker decides it: none declared, or declared
// without a test and not disabled; disable: true and test: [NONE] turn it
// off; a test of the file's own wins. A service_healthy dependency on a
// service that only has the image's check loads (the image decides later).
func TestImageHealthRequest(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.yaml")
	write(t, f, `services:
  plain:
    image: busybox
  tuned:
    image: busybox
    healthcheck:
      disable: false
      interval: 2s
      retries: 7
  disabled:
    image: busybox
    healthcheck:
      disable: true
  none:
    image: busybox
    healthcheck:
      test: ["NONE"]
  own:
    image: busybox
    healthcheck:
      test: ["CMD", "true"]
  web:
    image: busybox
    depends_on:
      plain: {condition: service_healthy}
`)
	p, err := LoadProject(context.Background(), "p", f, WithEnviron(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*model.Service{}
	for i := range p.Services {
		got[p.Services[i].Name] = &p.Services[i]
	}
	if h := got["plain"].ImageHealth; h == nil || !reflect.DeepEqual(*h, model.Health{}) || got["plain"].Health != nil {
		t.Errorf("plain: ImageHealth %+v Health %+v; want an empty request and no check yet", h, got["plain"].Health)
	}
	if h := got["tuned"].ImageHealth; h == nil || h.Interval != 2*time.Second || h.Retries != 7 || h.Timeout != 0 || len(h.Cmd) != 0 {
		t.Errorf("tuned: ImageHealth %+v; want interval 2s, retries 7, the rest from the image", h)
	}
	for _, n := range []string{"disabled", "none"} {
		if got[n].ImageHealth != nil || got[n].Health != nil {
			t.Errorf("%s: ImageHealth %+v Health %+v; want no check at all", n, got[n].ImageHealth, got[n].Health)
		}
	}
	if s := got["own"]; s.ImageHealth != nil || s.Health == nil || s.Health.Cmd[0] != "true" {
		t.Errorf("own: ImageHealth %+v Health %+v; want the file's test", s.ImageHealth, s.Health)
	}
	// The request is no part of what runs: the hash ignores it.
	before := got["plain"].Hash()
	got["plain"].ImageHealth = nil
	if got["plain"].Hash() != before {
		t.Errorf("the image health request changed the spec hash")
	}
}

// TestSettleImageHealth: the image's check becomes the service's, merged
// field by field with the file's overrides and docker's defaults; it gates
// service_healthy; a service_healthy target whose image has no check fails
// the project naming service and image.
func TestSettleImageHealth(t *testing.T) {
	img := &model.Health{Cmd: []string{"test -f /tmp/ready"}, Shell: true, Interval: 5 * time.Second, Timeout: 3 * time.Second, StartPeriod: 10 * time.Second}
	p := &model.Project{Services: []model.Service{
		{Name: "db", Image: "db:1", ImageHealth: &model.Health{Interval: time.Second}},
		{Name: "web", Image: "web:1", ImageHealth: &model.Health{}, DependsOn: map[string]model.Dependency{"db": {Condition: model.ConditionHealthy}}},
		{Name: "own", Image: "db:1", Health: &model.Health{Cmd: []string{"true"}}},
	}}
	lookups := 0
	err := p.SettleImageHealth(func(image string) (*model.Health, error) {
		lookups++
		if image == "db:1" {
			return img, nil
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if lookups != 2 {
		t.Errorf("%d lookups, want one per image that asks (2)", lookups)
	}
	db := p.Services[0]
	want := model.Health{Cmd: []string{"test -f /tmp/ready"}, Shell: true, Interval: time.Second, Timeout: 3 * time.Second,
		StartPeriod: 10 * time.Second, StartInterval: DefaultHealthStartInterval, Retries: DefaultHealthRetries}
	if db.Health == nil || !reflect.DeepEqual(*db.Health, want) || db.HealthSource != model.HealthFromImage {
		t.Errorf("db: Health %+v source %q\nwant %+v from the image", db.Health, db.HealthSource, want)
	}
	if db.Notify != model.NotifyHealthy {
		t.Errorf("db gates a service_healthy dependent but its notify mode is %q", db.Notify)
	}
	if p.Services[1].Health != nil || p.Services[1].HealthSource != "" {
		t.Errorf("web's image has no HEALTHCHECK, yet it got %+v", p.Services[1].Health)
	}
	if p.Services[2].HealthSource != "" || p.Services[2].Health.Cmd[0] != "true" {
		t.Errorf("own's check was touched: %+v", p.Services[2])
	}
	// The image's check changes the hash: a new HEALTHCHECK recreates.
	h1 := db.Hash()
	again := &model.Project{Services: []model.Service{{Name: "db", Image: "db:1", ImageHealth: &model.Health{Interval: time.Second}}}}
	img2 := *img
	img2.Cmd = []string{"test -f /tmp/other"}
	if err := again.SettleImageHealth(func(string) (*model.Health, error) { return &img2, nil }); err != nil {
		t.Fatal(err)
	}
	if again.Services[0].Hash() == h1 {
		t.Errorf("a different image HEALTHCHECK left the spec hash unchanged")
	}

	bad := &model.Project{Services: []model.Service{
		{Name: "db", Image: "plain:1", ImageHealth: &model.Health{}},
		{Name: "web", Image: "plain:1", DependsOn: map[string]model.Dependency{"db": {Condition: model.ConditionHealthy}}},
	}}
	err = bad.SettleImageHealth(func(string) (*model.Health, error) { return nil, nil })
	if err == nil || !strings.Contains(err.Error(), "service web: depends_on db: service_healthy needs a health check, and neither the Compose file nor image plain:1 declares one") {
		t.Errorf("service_healthy on a service without any check: %v", err)
	}

	// An unreadable image config: a warning for a service that can run
	// without a check, an error for one that needs it.
	down := errors.New("registry down")
	soft := &model.Project{Services: []model.Service{{Name: "app", Image: "gone:1", ImageHealth: &model.Health{}}}}
	if err := soft.SettleImageHealth(func(string) (*model.Health, error) { return nil, down }); err != nil {
		t.Errorf("an unreadable config of a service that needs no check failed the project: %v", err)
	}
	if len(soft.Warnings) != 1 || !strings.Contains(soft.Warnings[0], "service app runs without its image's HEALTHCHECK for now: registry down") {
		t.Errorf("warnings %q", soft.Warnings)
	}
	hard := &model.Project{Services: []model.Service{{Name: "app", Image: "gone:1", ImageHealth: &model.Health{}, Notify: model.NotifyHealthy}}}
	err = hard.SettleImageHealth(func(string) (*model.Health, error) { return nil, down })
	if err == nil || !strings.Contains(err.Error(), "service app: notify: healthy needs a health check, and the HEALTHCHECK of image gone:1 is unknown: registry down") {
		t.Errorf("an unreadable config of a service that needs a check: %v", err)
	}
}
