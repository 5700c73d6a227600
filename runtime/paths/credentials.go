package paths

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// saveCredentials encrypts each credential of svc (secrets with no source
// left at start), whose spec is at
// specPath, with systemd-creds into model.CredentialFile (0600, ciphertext
// only). The unit passes them with LoadCredentialEncrypted=, so systemd
// decrypts them into the unit's credentials directory at start. The host key
// (--with-key=host) works without a TPM. A file already there is kept: the
// spec hash covers the content, so it holds the same value; that is also how
// a spec reloaded from disk, which has no content, is saved again.
func saveCredentials(ctx context.Context, specPath string, svc *model.Service) (err error) {
	dir := model.CredentialDir(specPath)
	made := false
	defer func() {
		if err != nil && made {
			_ = os.RemoveAll(dir) // what this call created; nothing runs from it yet
		}
	}()
	for _, c := range svc.Credentials() {
		path := model.CredentialFile(specPath, c.Name)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if !c.Present {
			return fmt.Errorf("%s of %s: no content to encrypt (load the project again)", c.What, svc.ID())
		}
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", dir, err)
			}
			made = true
		}
		ct, err := encryptCredential(ctx, c.Name, c.Content)
		if err != nil {
			return fmt.Errorf("%s of %s: %w", c.What, svc.ID(), err)
		}
		if err := WriteFile(path, ct, 0o600); err != nil {
			return fmt.Errorf("%s of %s: %w", c.What, svc.ID(), err)
		}
	}
	return nil
}

// encryptCredential runs systemd-creds encrypt, plain text on stdin and
// ciphertext on stdout, so the value never touches a file.
func encryptCredential(ctx context.Context, name string, content []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "systemd-creds", "encrypt", "--with-key=host", "--name="+name, "-", "-")
	cmd.Stdin = bytes.NewReader(content)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("systemd-creds encrypt: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// removeCredentials deletes the credential directory of the spec at
// specPath, if any.
func removeCredentials(specPath string) error {
	err := os.RemoveAll(model.CredentialDir(specPath))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// credentialsSpec is the spec file name a credential directory belongs to.
func credentialsSpec(dirName string) (string, bool) {
	base, ok := strings.CutSuffix(dirName, ".creds")
	return filepath.Base(base) + ".json", ok
}
