package units

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestOneOff: a one-off's unit runs the container to completion and goes
// away, is named berth-<project>-<service>-run-<id>.service, and carries
// no BERTH_PROJECT, so passes neither repair nor prune it.
func TestOneOff(t *testing.T) {
	svc := &model.Service{Project: "shop", Name: "api-run-0a1b2c", Image: "busybox", Oneshot: true}
	u := OneOff(Service(Config{Binary: "/usr/bin/berth"}, svc, "/s/shop-api-run-0a1b2c.json"),
		OneOffName("shop", "api", "0a1b2c"), "BERTH_ONE_OFF", "shop/api", "busybox", "/s/shop-api-run-0a1b2c.json", "")
	if u.Name != "berth-shop-api-run-0a1b2c.service" {
		t.Errorf("name %q", u.Name)
	}
	text := u.Text()
	for _, want := range []string{"Type=oneshot", "RemainAfterExit=no", "Environment=BERTH_ONE_OFF=shop/api",
		"ExecStopPost=/bin/rm -rf -- /s/shop-api-run-0a1b2c.json /s/shop-api-run-0a1b2c.creds", "Description=berth run shop/api (busybox)", "run --wait --spec"} {
		if !strings.Contains(text, want) {
			t.Errorf("unit lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{EnvProject, EnvService, EnvHash, "RemainAfterExit=yes"} {
		if strings.Contains(text, bad) {
			t.Errorf("unit has %q:\n%s", bad, text)
		}
	}
	if _, err := u.Properties(); err != nil {
		t.Errorf("as D-Bus properties: %v", err)
	}
	if strings.Contains(text, "console-socket") {
		t.Errorf("a one-off without a terminal has a console socket:\n%s", text)
	}
	tty := OneOff(Service(Config{Binary: "/usr/bin/berth"}, svc, "/s/a.json"), "n.service", "M", "shop/api", "busybox", "/s/a.json", "/s/a b.console").Text()
	if !strings.Contains(tty, `run --wait --console-socket "/s/a b.console" --spec /s/a.json`) || !strings.Contains(tty, `"/s/a b.console"`+"\n") {
		t.Errorf("run -t: the launcher gets no console socket, or ExecStopPost leaves it:\n%s", tty)
	}
	if OneOffName("shop", "api-2", "x") != `berth-shop-api\x2d2-run-x.service` {
		t.Errorf("a declared service's dashes are escaped, the one-off's are not: %s", OneOffName("shop", "api-2", "x"))
	}
}
