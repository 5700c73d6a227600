package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildWebDockerfile is a two-stage build using FROM (the loopback
// registry's busybox), ARG, ENV, RUN, COPY (also --from a stage), USER and
// HEALTHCHECK.
const buildWebDockerfile = `ARG BASE
FROM ${BASE} AS assets
ARG GREETING=hello
RUN mkdir -p /out && echo "$GREETING from the build" > /out/index.html

FROM ${BASE}
ARG GREETING
ENV GREETING=${GREETING}
COPY --from=assets /out/index.html /www/index.html
COPY app.sh /app.sh
RUN chmod 755 /app.sh
USER 1000
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD test -f /tmp/ready
CMD ["/app.sh"]
`

const buildAppSh = `#!/bin/sh
trap 'exit 0' TERM
echo "serving $(cat /www/index.html) as $(id -u), GREETING=$GREETING"
touch /tmp/ready
while true; do sleep 1; done
`

const buildProject = `services:
  web:
    build:
      context: ./web
      args:
        BASE: BUSYBOX
        GREETING: hi
  api:
    build:
      context: ./api
      dockerfile_inline: |
        FROM BUSYBOX
        COPY run.sh /run.sh
        CMD ["sh", "/run.sh"]
  db:
    image: BUSYBOX
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
`

func (e *berthEnv) buildWrite(project, rel, content string) {
	e.t.Helper()
	p := filepath.Join(e.config, project, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// buildRuns counts the runs of a service's .build.service unit (each runs
// buildah once), from systemd's "Starting …" lines in its journal.
func (e *berthEnv) buildRuns(project, service string) int {
	e.t.Helper()
	j := e.sh("journalctl --no-pager -o cat -u berth-" + project + "-" + service + ".build.service || true")
	n := 0
	for _, l := range strings.Split(j, "\n") {
		if strings.HasPrefix(l, "Starting ") && strings.Contains(l, "berth "+project+"/"+service+" image build") {
			n++
		}
	}
	return n
}

// TestBuild: build: services are built with buildah in their
// .build.service units and run from berth's store: the image's USER and
// HEALTHCHECK take effect (uid 1000, healthy in ps, with a digest); an
// unchanged context runs buildah 0 times; an edited file rebuilds and
// recreates its service alone; a broken Dockerfile is reported with file
// and line and leaves every running container as it is; a project whose
// build fails still starts its other services.
func TestBuild(t *testing.T) {
	e := newBerthEnv(t)
	busybox := e.registry + "/busybox:latest"
	e.writeProject("bw", strings.ReplaceAll(buildProject, "BUSYBOX", busybox))
	e.buildWrite("bw", "web/Dockerfile", buildWebDockerfile)
	e.buildWrite("bw", "web/app.sh", buildAppSh)
	e.buildWrite("bw", "web/.dockerignore", "*.log\n")
	e.buildWrite("bw", "api/run.sh", "trap 'exit 0' TERM; while true; do sleep 1; done\n")

	start := time.Now()
	out := e.mustBerth("apply", "bw")
	t.Logf("first apply (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	const web, api, db = "berth-bw-web.service", "berth-bw-api.service", "berth-bw-db.service"
	for _, u := range []string{web, api, db} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Fatalf("%s is %s\n%s", u, st, e.sh("journalctl --no-pager -n 60 -u 'berth-bw-*'"))
		}
	}
	if j := e.sh("journalctl --no-pager -o cat -u berth-bw-web.build.service"); !strings.Contains(j, "STEP") || !strings.Contains(j, "built sha256:") {
		t.Errorf("the build unit's journal lacks buildah's output:\n%s", j)
	}
	e.eventually(20*time.Second, "ps to show web healthy", func() bool { return e.buildPs()["web"].Health == "healthy" })
	status := e.sh("cat /proc/" + strconv.Itoa(e.mainPID(web)) + "/status")
	if !strings.Contains(status, "\nUid:\t1000\t") {
		t.Errorf("web does not run as the image's USER 1000:\n%s", status)
	}
	if j := e.sh("journalctl --no-pager -o cat -u " + web); !strings.Contains(j, "serving hi from the build as 1000, GREETING=hi") {
		t.Errorf("web's output lacks what the build made:\n%s", j)
	}
	if row := e.buildPs()["web"]; row.Image != "localhost/bw-web:latest" || !strings.HasPrefix(row.Digest, "sha256:") {
		t.Errorf("ps shows web running %q (%q), want the built image and its digest", row.Image, row.Digest)
	}

	// Unchanged context: nothing to do, and buildah does not run.
	webRuns, apiRuns := e.buildRuns("bw", "web"), e.buildRuns("bw", "api")
	if webRuns != 1 || apiRuns != 1 {
		t.Errorf("first apply ran buildah %d times for web, %d for api; want 1 each", webRuns, apiRuns)
	}
	if out, err := e.berth("plan", "--detailed-exitcode", "bw"); err != nil {
		t.Errorf("plan right after apply has changes (%v):\n%s", err, out)
	}
	e.buildWrite("bw", "web/debug.log", "ignored by .dockerignore")
	e.mustBerth("apply", "bw")
	if n := e.buildRuns("bw", "web") + e.buildRuns("bw", "api"); n != webRuns+apiRuns {
		t.Errorf("an apply with unchanged contexts ran buildah %d times", n-webRuns-apiRuns)
	}

	// An edited file rebuilds and recreates web alone.
	apiPID, dbPID, webPID := e.mainPID(api), e.mainPID(db), e.mainPID(web)
	e.buildWrite("bw", "web/app.sh", strings.Replace(buildAppSh, "serving", "now serving", 1))
	plan := e.mustBerth("plan", "bw")
	t.Logf("plan after editing web/app.sh:\n%s", plan)
	if !strings.Contains(plan, "~ rebuild+recreate bw/web") || strings.Contains(plan, "recreate bw/api") || strings.Contains(plan, "recreate bw/db") {
		t.Errorf("plan after editing web's context should recreate web alone:\n%s", plan)
	}
	e.mustBerth("apply", "bw")
	if e.buildRuns("bw", "web") != webRuns+1 || e.buildRuns("bw", "api") != apiRuns {
		t.Errorf("after editing web's context: web built %d more times, api %d; want 1 and 0",
			e.buildRuns("bw", "web")-webRuns, e.buildRuns("bw", "api")-apiRuns)
	}
	if e.mainPID(api) != apiPID || e.mainPID(db) != dbPID || e.mainPID(web) == webPID {
		t.Errorf("a context edit of web restarted the wrong services")
	}
	e.eventually(20*time.Second, "web to log the edited script", func() bool {
		return strings.Contains(e.sh("journalctl --no-pager -o cat -u "+web), "now serving hi")
	})

	// berth build builds without touching what runs; apply --build
	// builds even unchanged contexts.
	webRuns, apiRuns = e.buildRuns("bw", "web"), e.buildRuns("bw", "api")
	apiPID = e.mainPID(api)
	t.Logf("berth build bw/api:\n%s", e.mustBerth("build", "bw/api"))
	if e.buildRuns("bw", "api") != apiRuns+1 || e.buildRuns("bw", "web") != webRuns {
		t.Errorf("berth build bw/api ran the wrong builds")
	}
	if e.mainPID(api) != apiPID {
		t.Errorf("berth build restarted api")
	}
	t.Logf("apply --build:\n%s", e.mustBerth("apply", "--build", "bw"))
	if e.buildRuns("bw", "api") != apiRuns+2 || e.buildRuns("bw", "web") != webRuns+1 {
		t.Errorf("apply --build did not build both services again")
	}
	for _, u := range []string{web, api, db} {
		if st := e.prop(u, "ActiveState"); st != "active" {
			t.Errorf("%s is %s after apply --build", u, st)
		}
	}

	// A broken Dockerfile: the error names file and line; nothing that
	// runs is touched, web included.
	apiPID, dbPID, webPID = e.mainPID(api), e.mainPID(db), e.mainPID(web)
	e.buildWrite("bw", "web/Dockerfile", strings.Replace(buildWebDockerfile, "USER 1000", "FROBNICATE 1000", 1))
	out, err := e.berth("apply", "bw")
	t.Logf("apply with a broken Dockerfile (%v):\n%s", err, out)
	wantLine := filepath.Join(e.config, "bw", "web", "Dockerfile") + ":12: FROBNICATE 1000"
	if err == nil || !strings.Contains(out, wantLine) || !strings.Contains(out, "build log tail") || strings.Contains(out, "imagebuilder.Step") {
		t.Errorf("apply with a broken Dockerfile: want a failure naming %q with the log tail", wantLine)
	}
	if e.mainPID(web) != webPID || e.mainPID(api) != apiPID || e.mainPID(db) != dbPID {
		t.Errorf("a failed build disturbed running containers")
	}

	// A project whose build-only service cannot build still starts the
	// rest.
	e.writeProject("mix", strings.ReplaceAll(`services:
  broken:
    build: ./broken
  ok:
    image: BUSYBOX
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
`, "BUSYBOX", busybox))
	e.buildWrite("mix", "broken/Dockerfile", "FROM "+busybox+"\nRUN echo about to fail && false\n")
	out, err = e.berth("apply", "mix")
	t.Logf("apply mix (%v):\n%s", err, out)
	if err == nil || !strings.Contains(out, "Dockerfile:2: RUN echo about to fail && false") || !strings.Contains(out, "about to fail") {
		t.Errorf("a failed RUN should be reported with its line and the log tail")
	}
	if st := e.prop("berth-mix-ok.service", "ActiveState"); st != "active" {
		t.Errorf("mix/ok is %s: a failed build blocked its project", st)
	}

	// The bundled example builds and serves; its HEALTHCHECK fetches the
	// page the build rendered.
	e.copyExample("buildapp")
	t.Logf("apply buildapp:\n%s", e.mustBerth("apply", "buildapp"))
	e.eventually(30*time.Second, "buildapp/app to be healthy", func() bool { return e.buildPs()["app"].Health == "healthy" })
}

type buildPsRow struct {
	Service string `json:"service"`
	Image   string `json:"image"`
	Digest  string `json:"digest"`
	Health  string `json:"health"`
}

func (e *berthEnv) buildPs() map[string]buildPsRow {
	e.t.Helper()
	js, err := e.berthStdout("ps", "--format", "json")
	if err != nil {
		e.t.Fatalf("ps: %v\n%s", err, js)
	}
	var rows []buildPsRow
	if err := json.Unmarshal([]byte(js), &rows); err != nil {
		e.t.Fatalf("ps json: %v\n%s", err, js)
	}
	out := map[string]buildPsRow{}
	for _, r := range rows {
		out[r.Service] = r
	}
	return out
}
