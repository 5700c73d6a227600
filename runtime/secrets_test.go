package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestSecretsReadAtStart: the launcher takes a file secret from its source
// as it is now, a credential secret and a secret variable from
// $CREDENTIALS_DIRECTORY, and env_file variables from the file, under
// Environment.
func TestSecretsReadAtStart(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds")
	must(t, os.Mkdir(creds, 0o700))
	must(t, os.WriteFile(filepath.Join(creds, model.CredentialName(1)), []byte("from-credential"), 0o600))
	must(t, os.WriteFile(filepath.Join(creds, model.EnvCredentialName(0)), []byte("pw"), 0o600))
	src := filepath.Join(dir, "db.txt")
	must(t, os.WriteFile(src, []byte("edited-after-apply"), 0o600))
	envFile := filepath.Join(dir, "app.env")
	must(t, os.WriteFile(envFile, []byte("A=from-file\nB=from-file\n"), 0o600))
	t.Setenv("CREDENTIALS_DIRECTORY", creds)

	var fromFile, fromCred model.FileMount
	fromFile.SetSecret([]byte("at-apply"), src)
	fromCred.SetSecret([]byte("at-apply"), "")
	for i, want := range map[int]string{0: "edited-after-apply", 1: "from-credential"} {
		got, err := fileContent(i, []model.FileMount{fromFile, fromCred}[i])
		if err != nil || string(got) != want {
			t.Errorf("file %d: %q, %v; want %q", i, got, err, want)
		}
	}
	ef, _, err := model.NewEnvFile(envFile, true)
	must(t, err)
	svc := &model.Service{Environment: map[string]string{"B": "inline"}, EnvFiles: []model.EnvFile{ef},
		SecretEnv: []model.SecretEnvVar{{Name: "PASSWORD", ContentHash: "x"}}}
	env, err := containerEnv(svc)
	must(t, err)
	if env["A"] != "from-file" || env["B"] != "inline" || env["PASSWORD"] != "pw" {
		t.Errorf("environment %v", env)
	}

	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if _, err := fileContent(1, fromCred); err == nil {
		t.Error("a credential secret outside its unit was read without error")
	}
}
