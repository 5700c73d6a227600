package model

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// SetSecret marks f a secret holding content, re-read at start from the
// host file source, or, when source is "", carried as a systemd credential.
func (f *FileMount) SetSecret(content []byte, source string) {
	f.Secret = true
	f.Content = content
	f.Source = source
	f.Credential = source == ""
	sum := sha256.Sum256(content)
	f.ContentHash = hex.EncodeToString(sum[:])
}

// MarshalJSON leaves a secret's content out: specs and last-good copies are
// on disk, and a secret must never be.
func (f FileMount) MarshalJSON() ([]byte, error) {
	type plain FileMount
	p := plain(f)
	if f.Secret {
		p.Content = nil
	}
	return json.Marshal(p)
}

// CredentialName is the systemd credential carrying Files[i]'s content.
func CredentialName(i int) string { return fmt.Sprintf("file-%d", i) }

// CredentialFile is where the encrypted credential CredentialName(i) of the
// spec at specPath is kept: <spec without .json>.creds/<name>, next to the
// spec and pruned with it. It holds ciphertext only (systemd-creds).
func CredentialFile(specPath string, i int) string {
	return CredentialDir(specPath) + "/" + CredentialName(i)
}

// CredentialDir is the directory of a spec's credential files.
func CredentialDir(specPath string) string {
	return strings.TrimSuffix(specPath, ".json") + ".creds"
}
