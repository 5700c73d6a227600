package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	authUser     = "berth-e2e"
	authPassword = "pw-7f3c9a1e" // must never show in any output
	authWrong    = "pw-wrong-52d1"
)

// authWriteFile writes <config>/auth.json (podman's format, docker's
// config.json "auths") for registry with mode.
func (e *berthEnv) authWriteFile(registry, password string, mode os.FileMode) string {
	e.t.Helper()
	path := filepath.Join(e.config, "auth.json")
	auth := base64.StdEncoding.EncodeToString([]byte(authUser + ":" + password))
	if err := os.WriteFile(path, fmt.Appendf(nil, `{"auths": {%q: {"auth": %q}}}`, registry, auth), mode); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		e.t.Fatal(err)
	}
	return path
}

// authNoSecrets fails the test when out shows a password, in clear or
// base64-encoded as auth.json holds it.
func (e *berthEnv) authNoSecrets(what, out string) {
	e.t.Helper()
	for _, pw := range []string{authPassword, authWrong} {
		enc := base64.StdEncoding.EncodeToString([]byte(authUser + ":" + pw))
		if strings.Contains(out, pw) || strings.Contains(out, enc) {
			e.t.Errorf("%s shows a credential:\n%s", what, out)
		}
	}
}

// authInStore reports whether the image store knows ref.
func (e *berthEnv) authInStore(ref string) bool {
	refs, err := os.ReadFile(filepath.Join(e.state, "images", "refs.json"))
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	return strings.Contains(string(refs), ref)
}

// TestPrivateRegistryFromUnit is issue 16 part 6: a unit started on a host
// whose store lacks its image (here: from `generate systemd`, apply never
// ran) pulls from a registry that requires basic auth, with the credentials
// in <config>/auth.json; a group-readable auth.json is warned about; wrong
// credentials fail the start with an error naming the registry, and no
// output ever shows a password.
func TestPrivateRegistryFromUnit(t *testing.T) {
	requireRoot(t)
	e := berthEnvIn(t, WorkDir(t), "")
	reg := StartRegistry(t)
	reg.RequireBasicAuth(authUser, authPassword)
	img, err := BuildBusybox()
	if err != nil {
		t.Fatal(err)
	}
	reg.Push(t, "private/app:v1", img)
	reg.Push(t, "private/app:v2", img)
	e.registry = reg.Addr()
	e.sb = BootSystemd(t, WithNetNS(reg.Addr()))

	authFile := e.authWriteFile(reg.Addr(), authPassword, 0o640)
	ref := reg.Ref("private/app:v1")
	e.writeProject("priv", fmt.Sprintf(`services:
  app:
    image: %s
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
`, ref))
	const unit = "berth-priv-app.service"
	out := e.mustBerth("generate", "systemd", "priv", "--output", "/etc/systemd/system")
	e.authNoSecrets("generate", out)
	if e.authInStore(ref) {
		t.Fatalf("%s is in the store before the unit started; the launcher would not pull", ref)
	}

	e.sh("systemctl daemon-reload")
	e.systemctl("start", unit)
	if st := e.prop(unit, "ActiveState"); st != "active" {
		t.Fatalf("%s is %s", unit, st)
	}
	e.assertContainerIsMainProcess(unit)
	if !e.authInStore(ref) {
		t.Errorf("%s is running but %s is not in the store", unit, ref)
	}
	journal := e.sh("journalctl --no-pager -u " + unit)
	t.Logf("journal of %s:\n%s", unit, journal)
	if !strings.Contains(journal, "readable by group or others") || !strings.Contains(journal, "file="+authFile) || !strings.Contains(journal, "mode=0640") {
		t.Errorf("the launcher's journal lacks the warning naming %s and mode 0640", authFile)
	}
	e.authNoSecrets("journal", journal)
	e.systemctl("stop", unit)
	e.sh("rm /etc/systemd/system/" + unit + " && systemctl daemon-reload")
	if err := os.RemoveAll(filepath.Join(e.config, "priv")); err != nil {
		t.Fatal(err)
	}

	// Wrong credentials, world-readable: apply warns, its own pull fails,
	// then the unit's, and apply and status say which registry refused.
	e.authWriteFile(reg.Addr(), authWrong, 0o644)
	bad := reg.Ref("private/app:v2")
	e.writeProject("wrong", fmt.Sprintf("services:\n  app:\n    image: %s\n    command: [\"sleep\", \"1000\"]\n", bad))
	out, err = e.berth("apply")
	t.Logf("berth apply with wrong credentials:\n%s", out)
	if err == nil {
		t.Errorf("apply succeeded with wrong credentials")
	}
	if !strings.Contains(out, "readable by group or others") || !strings.Contains(out, "mode=0644") {
		t.Errorf("apply does not warn about the world-readable %s", authFile)
	}
	line := lineWith(out, "wrong/app: create failed: ")
	for _, want := range []string{"berth-launcher: ", "pulling " + bad, "access denied by registry " + reg.Addr()} {
		if !strings.Contains(line, want) {
			t.Errorf("apply's line for wrong/app lacks %q: %q", want, line)
		}
	}
	e.authNoSecrets("apply", out)
	out, _ = e.berth("status")
	t.Logf("berth status:\n%s", out)
	if !strings.Contains(out, "wrong/app (berth-wrong-app.service): failed") || !strings.Contains(out, "access denied by registry "+reg.Addr()) {
		t.Errorf("berth status does not say that %s refused wrong/app's credentials", reg.Addr())
	}
	e.authNoSecrets("status", out)
	journal = e.sh("journalctl --no-pager -u berth-wrong-app.service")
	e.authNoSecrets("journal", journal)
	if e.authInStore(bad) {
		t.Errorf("%s is in the store though every pull was refused", bad)
	}
}
