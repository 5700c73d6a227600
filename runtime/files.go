package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berth-dev/berth/compose/model"
)

// defaultFileMode is docker's mode for secrets and configs without one.
const defaultFileMode = 0o444

// writeFiles writes each secret's and config's content into
// <run>/containers/<id>/files (0700, on the run dir's tmpfs: a secret never
// reaches the state dir's disk), owned and moded as declared, and returns
// the host path of each, by index. Secrets are read at this point (see
// fileContent). applyMounts bind-mounts them read-only
// at their targets; cleanup removes them with the run dir.
func writeFiles(l layout, files []model.FileMount) ([]string, error) {
	if len(files) == 0 {
		return nil, nil
	}
	dir := filepath.Join(l.runDir, "files")
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	out := make([]string, len(files))
	for i, f := range files {
		p := filepath.Join(dir, strconv.Itoa(i))
		content, err := fileContent(i, f)
		if err != nil {
			return nil, fmt.Errorf("reading %s %s: %w", fileKind(f), f.Name, err)
		}
		f.Content = content
		if err := writeFileMount(p, f); err != nil {
			return nil, fmt.Errorf("writing %s %s: %w", fileKind(f), f.Name, err)
		}
		out[i] = p
	}
	return out, nil
}

// fileContent is what Files[i] holds: a secret is read now, from its host
// file or from the credential systemd decrypted for this unit; a config's
// content is in the spec.
func fileContent(i int, f model.FileMount) ([]byte, error) {
	switch {
	case !f.Secret:
		return f.Content, nil
	case f.Source != "":
		return os.ReadFile(f.Source)
	case f.Credential:
		return readCredential(model.CredentialName(i))
	}
	return f.Content, nil // a spec written before secrets were references
}

// readCredential reads a credential systemd decrypted for this unit.
func readCredential(name string) ([]byte, error) {
	dir := os.Getenv("CREDENTIALS_DIRECTORY")
	if dir == "" {
		return nil, fmt.Errorf("credential %s: no $CREDENTIALS_DIRECTORY (secrets are passed only to their systemd unit)", name)
	}
	return os.ReadFile(filepath.Join(dir, name))
}

// containerEnv is the service's environment with its env_files and secret
// variables read now: none of their values is in the spec.
func containerEnv(svc *model.Service) (map[string]string, error) {
	env, err := svc.Env()
	if err != nil || len(svc.SecretEnv) == 0 {
		return env, err
	}
	out := make(map[string]string, len(env)+len(svc.SecretEnv))
	for k, v := range env {
		out[k] = v
	}
	for i, e := range svc.SecretEnv {
		b, err := readCredential(model.EnvCredentialName(i))
		if err != nil {
			return nil, fmt.Errorf("reading secret variable %s: %w", e.Name, err)
		}
		out[e.Name] = string(b)
	}
	return out, nil
}

func writeFileMount(p string, f model.FileMount) error {
	mode := fs.FileMode(f.Mode)
	if mode == 0 {
		mode = defaultFileMode
	}
	if f.Mode&^0o7777 != 0 {
		return fmt.Errorf("mode %o is not a file mode", f.Mode)
	}
	if f.UID < 0 || f.GID < 0 {
		return fmt.Errorf("uid %d / gid %d must not be negative", f.UID, f.GID)
	}
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(f.Content)
	if err == nil {
		err = fh.Chown(f.UID, f.GID)
	}
	if err == nil {
		// After chown, which clears set-id bits.
		err = fh.Chmod(mode&fs.ModePerm | unixModeBits(f.Mode))
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// unixModeBits converts setuid, setgid and sticky bits of a unix mode to
// Go's fs.FileMode flags.
func unixModeBits(m uint32) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}
