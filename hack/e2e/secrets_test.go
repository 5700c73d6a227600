package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// secretsMarkers are values that appear nowhere but in their source, so a
// grep for them finds every copy. (Compose secrets have no content:; a
// Kubernetes Secret's data is the inline case, in TestSecretsKube.)
type secretsMarkers struct{ file, env, envFile string }

func newSecretsMarkers() secretsMarkers {
	n := time.Now().UnixNano()
	return secretsMarkers{
		file:    fmt.Sprintf("mk-file-%x", n),
		env:     fmt.Sprintf("mk-env-%x", n),
		envFile: fmt.Sprintf("mk-envfile-%x", n),
	}
}

func (m secretsMarkers) all() []string { return []string{m.file, m.env, m.envFile} }

// secretsEnvVar is the apply process's variable the environment secret
// reads; no unit and no file has it.
const secretsEnvVar = "BERTH_E2E_SECRET"

// berthWithEnv runs berth with secretsEnvVar set, as a user exporting it in
// the shell that runs apply.
func (e *berthEnv) berthWithEnv(value string, args ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{secretsEnvVar + "=" + value, e.bin, "--config-dir", e.config, "--state-dir", e.state}, args...)
	out, err := e.sb.Command(ctx, "env", full...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("berth %s: %v\n%s\n%s", strings.Join(args, " "), err, out, e.sh("journalctl --no-pager -n 40 || true"))
	}
	return string(out)
}

// secretsCheckContainer asserts that unit's container sees every value:
// the three secrets as files with their declared owner and mode, and the
// env_file's variable in its environment.
func (e *berthEnv) secretsCheckContainer(when, unit string, m secretsMarkers) {
	e.t.Helper()
	if st := e.prop(unit, "ActiveState"); st != "active" {
		e.t.Fatalf("%s: %s is %s\n%s", when, unit, st, e.sh("journalctl --no-pager -n 40 -u '"+unit+"' || true"))
	}
	root := fmt.Sprintf("/proc/%d/root", e.mainPID(unit))
	for path, want := range map[string]string{"/run/secrets/filesec": m.file, "/run/secrets/envsec": m.env} {
		if got := e.sh("cat " + root + path); got != want {
			e.t.Errorf("%s: %s holds %q, want %q", when, path, got, want)
		}
	}
	if got := e.sh("stat -c '%u:%g %a' " + root + "/run/secrets/filesec"); got != "1000:1000 400" {
		e.t.Errorf("%s: file secret owner and mode %q, want 1000:1000 400", when, got)
	}
	if got := e.sh("stat -c '%u:%g %a' " + root + "/run/secrets/envsec"); got != "0:0 440" {
		e.t.Errorf("%s: environment secret owner and mode %q, want 0:0 440", when, got)
	}
	env := e.sh(fmt.Sprintf("tr '\\0' '\\n' < /proc/%d/environ", e.mainPID(unit))) + "\n"
	if !strings.Contains(env, "FROM_ENV_FILE="+m.envFile+"\n") || !strings.Contains(env, "PLAIN=kept\n") {
		e.t.Errorf("%s: container environment lacks the env_file's variables:\n%s", when, env)
	}
}

// secretsCheckAtRest asserts that no value (nor its base64) is in the state
// dir or in the run dir outside the container's own secret files.
func (e *berthEnv) secretsCheckAtRest(when string, m secretsMarkers) {
	e.t.Helper()
	for _, v := range m.all() {
		for _, needle := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if f := e.sh(fmt.Sprintf("grep -rl -- %q %s || true", needle, e.state)); f != "" {
				e.t.Errorf("%s: %q is at rest in the state dir: %s", when, needle, f)
			}
			// files/ is the container's tmpfs copy, bind-mounted at the
			// targets; rootfs is the container's own view.
			if f := e.sh(fmt.Sprintf("grep -rl --exclude-dir=files --exclude-dir=rootfs -- %q /run/berth 2>/dev/null || true", needle)); f != "" {
				e.t.Errorf("%s: %q is in the run dir: %s", when, needle, f)
			}
		}
	}
	if ls := e.sh(fmt.Sprintf("find %s/specs -name 'file-*' -printf '%%m %%p\\n'", e.state)); !strings.Contains(ls, "600 ") {
		e.t.Errorf("%s: no 0600 encrypted credential files in the spec store:\n%s", when, ls)
	}
}

// TestSecretsNeverAtRest: a file secret, an environment secret and an
// env_file reach the container after apply, a restart, an
// auto-update recreate and through `generate systemd` units, while no value
// is ever written to the state dir or the run dir outside the container's
// own secret files.
func TestSecretsNeverAtRest(t *testing.T) {
	e := newBerthEnv(t)
	m := newSecretsMarkers()
	img := e.registry + "/busybox:latest"
	const unit = "berth-sec-app.service"
	e.writeProject("sec", fmt.Sprintf(`secrets:
  filesec:
    file: ./file.txt
  envsec:
    environment: %s
services:
  app:
    image: %s
    command: ["sh", "-c", "exec sleep 1000"]
    env_file: ./app.env
    labels:
      io.containers.autoupdate: registry
    secrets:
      - source: filesec
        uid: "1000"
        gid: "1000"
        mode: 0400
      - source: envsec
        mode: 0440
`, secretsEnvVar, img))
	dir := filepath.Join(e.config, "sec")
	for name, content := range map[string]string{"file.txt": m.file, "app.env": "# app\nFROM_ENV_FILE=" + m.envFile + "\nPLAIN=kept\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Logf("apply:\n%s", e.berthWithEnv(m.env, "apply", "sec"))
	e.secretsCheckContainer("after apply", unit, m)
	e.secretsCheckAtRest("after apply", m)

	// A restart reads the file and env_file again and decrypts the
	// credentials: the apply process and its variable are gone.
	pid := e.mainPID(unit)
	e.systemctl("restart", unit)
	if p := e.mainPID(unit); p == pid {
		t.Fatalf("not restarted: main PID still %d", p)
	}
	e.secretsCheckContainer("after restart", unit, m)
	e.secretsCheckAtRest("after restart", m)

	// Auto-update recreates the container from the frozen spec.
	e.pushImage("busybox:latest", WithFile("/etc/version", []byte("v2")))
	pid = e.mainPID(unit)
	rows := e.autoUpdateJSON(true)
	if r := rows[unit]; r.Result != "updated" {
		t.Fatalf("auto-update: %+v; want updated", r)
	}
	if p := e.mainPID(unit); p == pid {
		t.Fatalf("not recreated by auto-update: main PID still %d", p)
	}
	e.secretsCheckContainer("after auto-update", unit, m)
	e.secretsCheckAtRest("after auto-update", m)

	// An edited env_file changes the spec: apply recreates, and the
	// container sees the new value.
	m2 := m
	m2.envFile = m.envFile + "-2"
	if err := os.WriteFile(filepath.Join(dir, "app.env"), []byte("FROM_ENV_FILE="+m2.envFile+"\nPLAIN=kept\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := e.berthWithEnv(m.env, "apply", "sec"); !strings.Contains(out, "sec/app: recreated") {
		t.Fatalf("apply after editing the env_file:\n%s", out)
	}
	e.secretsCheckContainer("after editing the env_file", unit, m2)
	e.secretsCheckAtRest("after editing the env_file", m2)

	// Units on disk from `generate systemd` carry the same credentials.
	e.mustBerth("down", "sec")
	t.Logf("generate:\n%s", e.berthWithEnv(m.env, "generate", "systemd", "sec", "--output", "/etc/systemd/system"))
	if u := e.sh("cat /etc/systemd/system/" + unit); !strings.Contains(u, "LoadCredentialEncrypted=") {
		t.Errorf("the generated unit has no LoadCredentialEncrypted=:\n%s", u)
	}
	e.sh("systemctl daemon-reload")
	e.systemctl("start", unit)
	e.secretsCheckContainer("generated unit", unit, m2)
	e.systemctl("restart", unit)
	e.secretsCheckContainer("generated unit after restart", unit, m2)
	e.secretsCheckAtRest("generated unit", m2)
	for _, f := range []string{"/etc/systemd/system/" + unit} {
		if out := e.sh(fmt.Sprintf("grep -l -- %q %s || true", m.env, f)); out != "" {
			t.Errorf("the generated unit holds the environment secret: %s", out)
		}
	}
	e.systemctl("stop", unit)
}

// TestSecretsKube: a Kubernetes Secret's data, with no source left at
// start, reaches the container as a file and as a variable after apply and
// after a restart, and neither value is ever written to the state dir.
func TestSecretsKube(t *testing.T) {
	e := newBerthEnv(t)
	n := time.Now().UnixNano()
	fileVal, envVal := fmt.Sprintf("mk-kfile-%x", n), fmt.Sprintf("mk-kenv-%x", n)
	e.kubeWrite("ksec", fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  token: %s
  password: %s
---
apiVersion: v1
kind: Pod
metadata:
  name: ksec
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: REGISTRY/busybox:latest
    command: [sh, -c, "exec sleep 1000"]
    env:
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password}
    volumeMounts:
    - {name: creds, mountPath: /creds, readOnly: true}
  volumes:
  - name: creds
    secret:
      secretName: creds
      items:
      - {key: token, path: token}
`, fileVal, envVal))
	const unit = "berth-ksec-app.service"
	t.Logf("apply:\n%s", e.mustBerth("apply"))
	check := func(when string) {
		t.Helper()
		if st := e.prop(unit, "ActiveState"); st != "active" {
			t.Fatalf("%s: %s is %s\n%s", when, unit, st, e.sh("journalctl --no-pager -n 40 -u '"+unit+"' || true"))
		}
		pid := e.mainPID(unit)
		if got := e.sh(fmt.Sprintf("cat /proc/%d/root/creds/token", pid)); got != fileVal {
			t.Errorf("%s: /creds/token holds %q, want %q", when, got, fileVal)
		}
		if env := e.sh(fmt.Sprintf("tr '\\0' '\\n' < /proc/%d/environ", pid)) + "\n"; !strings.Contains(env, "PASSWORD="+envVal+"\n") {
			t.Errorf("%s: the container's environment lacks PASSWORD=%s:\n%s", when, envVal, env)
		}
		for _, v := range []string{fileVal, envVal} {
			for _, needle := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
				if f := e.sh(fmt.Sprintf("grep -rl -- %q %s || true", needle, e.state)); f != "" {
					t.Errorf("%s: %q is at rest in the state dir: %s", when, needle, f)
				}
			}
		}
		if u := e.sh("systemctl cat " + unit + " || true"); strings.Contains(u, envVal) {
			t.Errorf("%s: the unit holds the secret variable", when)
		}
	}
	check("after apply")
	pid := e.mainPID(unit)
	e.systemctl("restart", unit)
	if p := e.mainPID(unit); p == pid {
		t.Fatalf("not restarted: main PID still %d", p)
	}
	check("after restart")
}
