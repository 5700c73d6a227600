package paths

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestSpecsSaveCredentials: Save keeps a credential secret only as 0600
// ciphertext that systemd-creds decrypts back, saves a spec reloaded from
// disk (no content) again, and Prune and RemoveService take the
// credentials with their spec.
func TestSpecsSaveCredentials(t *testing.T) {
	if _, err := exec.LookPath("systemd-creds"); err != nil {
		t.Fatalf("systemd-creds is needed: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatal("encrypting with the host key needs root")
	}
	ctx := context.Background()
	store := New("", t.TempDir(), "").SpecStore()
	var f model.FileMount
	f.Name, f.Target = "api", "/run/secrets/api"
	f.SetSecret([]byte("plain-secret-value"), "")
	svc := &model.Service{Project: "p", Name: "a", Image: "busybox", Files: []model.FileMount{f}}
	spec, err := store.Save(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	cred := model.CredentialFile(spec, model.CredentialName(0))
	ct, err := os.ReadFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(cred); st.Mode().Perm() != 0o600 {
		t.Errorf("credential mode %v, want 0600", st.Mode().Perm())
	}
	specText, _ := os.ReadFile(spec)
	if bytes.Contains(ct, []byte("plain-secret-value")) || bytes.Contains(specText, []byte("plain-secret-value")) {
		t.Fatal("the secret is on disk in the clear")
	}
	out, err := exec.Command("systemd-creds", "decrypt", "--name="+model.CredentialName(0), cred, "-").Output()
	if err != nil || string(out) != "plain-secret-value" {
		t.Fatalf("decrypt: %q, %v", out, err)
	}

	reloaded, err := LoadSpec(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Save(ctx, reloaded); err != nil {
		t.Errorf("saving a reloaded spec: %v", err)
	}
	if again, _ := os.ReadFile(cred); !bytes.Equal(again, ct) {
		t.Error("saving again rewrote the credential")
	}

	store.Prune(ctx, func(id, hash string) bool { return true })
	if _, err := os.Stat(cred); err != nil {
		t.Errorf("Prune removed a kept spec's credential: %v", err)
	}
	if err := store.RemoveService(ctx, "p", "a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(model.CredentialDir(spec)); !os.IsNotExist(err) {
		t.Errorf("RemoveService left the credentials: %v", err)
	}
	if _, err := store.Save(ctx, svc); err != nil {
		t.Fatal(err)
	}
	store.Prune(ctx, func(id, hash string) bool { return false })
	if _, err := os.Stat(model.CredentialDir(spec)); !os.IsNotExist(err) {
		t.Errorf("Prune left the credentials of a removed spec: %v", err)
	}
}
