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

// EnvCredentialName is the systemd credential carrying SecretEnv[i]'s value.
func EnvCredentialName(i int) string { return fmt.Sprintf("env-%d", i) }

// SecretEnvVar is an environment variable whose value is a secret with no
// source left at start (a Kubernetes Secret's data): the value travels as
// the unit's credential EnvCredentialName(i) and is never in the spec.
type SecretEnvVar struct {
	Name        string `json:"name"`
	Value       string `json:"-"`
	ContentHash string `json:"content_hash"`
}

// NewSecretEnvVar is name=value kept as a secret.
func NewSecretEnvVar(name, value string) SecretEnvVar {
	sum := sha256.Sum256([]byte(value))
	return SecretEnvVar{Name: name, Value: value, ContentHash: hex.EncodeToString(sum[:])}
}

// Credential is one secret value the unit of a service receives as an
// encrypted systemd credential.
type Credential struct {
	Name    string // as the launcher finds it in $CREDENTIALS_DIRECTORY
	What    string // for messages: "secret NAME" or "variable NAME"
	Content []byte // nil when loaded from a spec on disk
	Present bool   // Content is known (a freshly loaded model)
}

// Credentials lists svc's credentials in a stable order.
func (s *Service) Credentials() []Credential {
	var out []Credential
	for i, f := range s.Files {
		if f.Secret && f.Credential {
			out = append(out, Credential{Name: CredentialName(i), What: "secret " + f.Name, Content: f.Content, Present: f.Content != nil})
		}
	}
	for i, e := range s.SecretEnv {
		out = append(out, Credential{Name: EnvCredentialName(i), What: "variable " + e.Name, Content: []byte(e.Value), Present: e.ContentHash != "" && (e.Value != "" || e.ContentHash == emptyHash)})
	}
	return out
}

var emptyHash = func() string { sum := sha256.Sum256(nil); return hex.EncodeToString(sum[:]) }()

// CredentialFile is where the encrypted credential name of the spec at
// specPath is kept: <spec without .json>.creds/<name>, next to the spec and
// pruned with it. It holds ciphertext only (systemd-creds).
func CredentialFile(specPath, name string) string {
	return CredentialDir(specPath) + "/" + name
}

// CredentialDir is the directory of a spec's credential files.
func CredentialDir(specPath string) string {
	return strings.TrimSuffix(specPath, ".json") + ".creds"
}
