package units

import (
	"reflect"
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestCredentialsInBothRenderings: a secret without a source left at start
// and a Secret-sourced variable become LoadCredentialEncrypted= in the unit
// file and the same a(ss) pairs on the bus; a file secret, re-read from its
// source, needs none.
func TestCredentialsInBothRenderings(t *testing.T) {
	var file, inline model.FileMount
	file.Name, file.Target = "db", "/run/secrets/db"
	file.SetSecret([]byte("x"), "/etc/berth/app/db.txt")
	inline.Name, inline.Target = "api", "/run/secrets/api"
	inline.SetSecret([]byte("y"), "")
	svc := &model.Service{Project: "app", Name: "web", Image: "busybox",
		Files:     []model.FileMount{file, inline},
		SecretEnv: []model.SecretEnvVar{model.NewSecretEnvVar("PASSWORD", "z")}}
	const spec = "/var/lib/berth/specs/app-web-0123456789abcdef.json"
	u := Service(Config{Binary: "/usr/bin/berth"}, svc, spec)
	const dir = "/var/lib/berth/specs/app-web-0123456789abcdef.creds/"
	want := []credentialPath{{"file-1", dir + "file-1"}, {"env-0", dir + "env-0"}}

	var lines []string
	for _, o := range u.Options {
		if o.Name == "LoadCredentialEncrypted" {
			lines = append(lines, o.Value)
		}
	}
	if got := strings.Join(lines, " "); got != "file-1:"+dir+"file-1 env-0:"+dir+"env-0" {
		t.Errorf("unit file: LoadCredentialEncrypted= %s", got)
	}
	props, err := u.Properties()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range props {
		if p.Name == "LoadCredentialEncrypted" {
			if got := p.Value.Value(); !reflect.DeepEqual(got, want) {
				t.Errorf("D-Bus LoadCredentialEncrypted = %#v, want %#v", got, want)
			}
			if sig := p.Value.Signature().String(); sig != "a(ss)" {
				t.Errorf("signature %s, want a(ss)", sig)
			}
			return
		}
	}
	t.Error("no LoadCredentialEncrypted property")
}
