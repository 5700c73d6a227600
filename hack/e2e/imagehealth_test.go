package e2e

import (
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// healthImage is a non-root image (USER 1000) whose only health check is
// its HEALTHCHECK: healthy once /tmp/ready exists.
func healthImage(test string) []ImageOption {
	return append(nonrootImage(), WithConfig(func(c *v1.Config) {
		c.Healthcheck = &v1.HealthConfig{
			Test:        []string{"CMD-SHELL", test},
			Interval:    time.Second,
			Timeout:     2 * time.Second,
			StartPeriod: 30 * time.Second,
			Retries:     2,
		}
	}))
}

// imageHealthProject: db and api declare no check of their own (api has
// disable: false and its own interval, as immich's file does); web waits for
// api healthy, api for db healthy; off turns the image's check off.
const imageHealthProject = `services:
  db:
    image: HC
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3; touch /tmp/ready; while true; do sleep 1; done"]
  api:
    image: HC
    command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/ready; while true; do sleep 1; done"]
    healthcheck:
      disable: false
      interval: 2s
    depends_on:
      db: {condition: service_healthy}
  web:
    image: BUSYBOX
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    depends_on:
      api: {condition: service_healthy}
  off:
    image: HC
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    healthcheck:
      disable: true
`

// TestImageHealthcheck: services whose only health check is their image's
// HEALTHCHECK (run as the image's non-root USER) gate a service_healthy
// chain, show their health in ps and get a health timer; plan names the
// image as the check's source and stays empty after apply; disable: true
// turns the check off; a new HEALTHCHECK in a pulled image recreates the
// services using it; a service_healthy target whose image has no check is
// refused naming the image, without touching what runs.
func TestImageHealthcheck(t *testing.T) {
	e := newBerthEnv(t)
	hc := e.pushImage("hc:latest", healthImage("test -f /tmp/ready && echo img-ok")...)
	project := strings.NewReplacer("HC", hc, "BUSYBOX", e.registry+"/busybox:latest").Replace(imageHealthProject)
	e.writeProject("ih", project)

	plan := e.mustBerth("plan", "ih")
	t.Logf("plan:\n%s", plan)
	for _, svc := range []string{"db", "api"} {
		want := "ih/" + svc + " (berth-ih-" + svc + ".service) [health check: image HEALTHCHECK CMD-SHELL test -f /tmp/ready && echo img-ok]"
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(plan, "ih/off (berth-ih-off.service) [health") {
		t.Errorf("plan gives off, whose check is disabled, a health check")
	}
	t.Logf("apply:\n%s", e.mustBerth("apply", "ih"))

	const db, api, web = "berth-ih-db.service", "berth-ih-api.service", "berth-ih-web.service"
	for _, u := range []string{db, api, web, "berth-ih-off.service"} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 40 -u 'berth-ih-*'"))
		}
	}
	dbStart := e.healthTimestamp(db, "InactiveExitTimestampMonotonic")
	dbActive := e.healthTimestamp(db, "ActiveEnterTimestampMonotonic")
	apiStart := e.healthTimestamp(api, "InactiveExitTimestampMonotonic")
	apiActive := e.healthTimestamp(api, "ActiveEnterTimestampMonotonic")
	webStart := e.healthTimestamp(web, "InactiveExitTimestampMonotonic")
	t.Logf("db active %v after start; api started %v after db active, active %v later; web started %v after api active",
		dbActive-dbStart, apiStart-dbActive, apiActive-apiStart, webStart-apiActive)
	if dbActive-dbStart < 3*time.Second {
		t.Errorf("db became active %v after start, before the image's check could pass (3 s)", dbActive-dbStart)
	}
	if apiStart < dbActive || webStart < apiActive {
		t.Errorf("the service_healthy chain did not wait: db active %v, api start %v, api active %v, web start %v",
			dbActive, apiStart, apiActive, webStart)
	}
	if j := e.sh("journalctl --no-pager -o cat -u " + db); !strings.Contains(j, "first passing health check") {
		t.Errorf("db's journal does not say its health check made it ready:\n%s", j)
	}

	e.eventually(15*time.Second, "ps to show db and api healthy", func() bool {
		rows := e.healthPs()
		return rows["db"].Health == "healthy" && rows["api"].Health == "healthy"
	})
	rows := e.healthPs()
	if d := rows["db"].HealthDetail; d == nil || d.Health == nil || !strings.Contains(d.Health.LastOutput, "img-ok") {
		t.Errorf("db's last check output: %+v", d)
	}
	for _, svc := range []string{"off", "web"} {
		if rows[svc].Health != "" {
			t.Errorf("%s has no health check but ps shows %q", svc, rows[svc].Health)
		}
	}
	for unit, want := range map[string]string{"berth-ih-db-health.timer": "active", "berth-ih-off-health.timer": "inactive"} {
		if st := e.prop(unit, "ActiveState"); st != want {
			t.Errorf("%s is %s, want %s", unit, st, want)
		}
	}
	table := e.mustBerth("ps")
	t.Logf("ps:\n%s", table)

	// Nothing flaps: the image's check resolves the same way again.
	if out, err := e.berth("plan", "--detailed-exitcode", "ih"); err != nil {
		t.Errorf("plan right after apply has changes (%v):\n%s", err, out)
	}

	// A new HEALTHCHECK in the image the services run (pulled, as
	// auto-update does) recreates the services that use it.
	e.pushImage("hc:latest", healthImage("test -f /tmp/ready && echo img-v2")...)
	e.mustBerth("pull", "ih")
	plan = e.mustBerth("plan", "ih")
	t.Logf("plan after pulling a new HEALTHCHECK:\n%s", plan)
	for _, want := range []string{"~ recreate ih/db", "~ recreate ih/api", "health", "img-v2"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan after a new image HEALTHCHECK lacks %q", want)
		}
	}
	if strings.Contains(plan, "recreate ih/web") && !strings.Contains(plan, "recreate ih/api") {
		t.Errorf("web recreated for no reason")
	}

	// service_healthy on a service whose image has no check: refused with
	// the image named; the running project is left alone.
	e.writeProject("bad", strings.ReplaceAll(`services:
  db:
    image: BUSYBOX
    command: ["sleep", "1000"]
  web:
    image: BUSYBOX
    command: ["sleep", "1000"]
    depends_on:
      db: {condition: service_healthy}
`, "BUSYBOX", e.registry+"/busybox:latest"))
	out, err := e.berth("plan", "bad")
	if err == nil || !strings.Contains(out, "service web: depends_on db: service_healthy needs a health check, and neither the Compose file nor image "+e.registry+"/busybox:latest declares one") {
		t.Errorf("plan of a service_healthy target without any check (%v):\n%s", err, out)
	}
	if st := e.prop(db, "ActiveState"); st != "active" {
		t.Errorf("db is %s after the bad project was planned", st)
	}
}

// TestAutoUpdateImageHealthcheck: auto-update's soak waits for the image's
// own HEALTHCHECK as it does for a compose one: a new digest whose check
// never passes is rolled back, one that passes is kept.
func TestAutoUpdateImageHealthcheck(t *testing.T) {
	reg := StartRegistry(t)
	e := berthEnvIn(t, WorkDir(t), reg.Addr())
	push := func(opts ...ImageOption) string {
		t.Helper()
		base := []ImageOption{WithCmd("sleep", "600"), WithConfig(func(c *v1.Config) {
			c.Healthcheck = &v1.HealthConfig{Test: []string{"CMD", "cat", "/healthy"}, Interval: time.Second, Timeout: time.Second, Retries: 2}
		})}
		img, err := BuildBusybox(append(base, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return reg.Push(t, reg.Ref("web:stable"), img)
	}
	good := push(WithFile("/healthy", []byte("yes\n")))
	e.sb = BootSystemd(t, WithNetNS(reg.Addr()))
	e.writeProject("ihc", `services:
  web:
    image: `+reg.Ref("web:stable")+`
    init: true
    x-berth:
      autoupdate: registry
      soak: 2s
`)
	e.mustBerth("apply")
	const web = "berth-ihc-web.service"
	e.eventually(15*time.Second, "the image's check to pass", func() bool {
		return strings.Contains(e.mustBerth("ps"), "healthy")
	})

	bad := push(WithFile("/etc/version", []byte("v2\n"))) // same HEALTHCHECK, no /healthy
	out, err := e.berth("auto-update")
	t.Logf("auto-update to an unhealthy digest:\n%s", out)
	if err == nil {
		t.Errorf("auto-update to a digest failing its image's check exited 0")
	}
	ev := e.autoupdateHistory()
	last := ev[len(ev)-1]
	if last.Result != "rolled-back" || last.From != good || last.To != bad ||
		!(strings.Contains(last.Reason, "unhealthy") || strings.Contains(last.Reason, "no passing health check")) {
		t.Errorf("history: %+v; want rolled back because of the image's check", last)
	}
	if ps := e.autoupdatePs(); ps[web] != good {
		t.Errorf("ps after the rollback: %s; want %s", ps[web], good)
	}

	v3 := push(WithFile("/healthy", []byte("yes\n")), WithFile("/etc/version", []byte("v3\n")))
	if r := e.autoUpdateJSON(true)[web]; r.Result != "updated" || r.From != good || r.To != v3 {
		t.Errorf("update to a digest passing its image's check: %+v", r)
	}
	e.mustBerth("down", "ihc")
}
