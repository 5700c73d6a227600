package compose

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/distribution/reference"

	"github.com/berth-dev/berth/compose/model"
)

// The checks here run at load time, so that a bad value is reported with
// file and line and never reaches a unit file, a launcher command line or
// a path under the state dir (issue 16).

// CheckImage checks an image reference the way docker does
// (distribution/reference: "busybox", "registry:5000/a/b:tag@sha256:…").
// The reference lands in unit files (Description=, BERTH_IMAGE=), so this
// also keeps spaces, quotes and control characters out of them.
func CheckImage(image string) error {
	if err := model.NoControl(image); err != nil {
		return fmt.Errorf("image reference: %w", err)
	}
	if _, err := reference.ParseNormalizedNamed(image); err != nil {
		return fmt.Errorf("%q is not an image reference: %w", image, err)
	}
	return nil
}

// volumeNameRE is docker's rule for volume names; the name is a directory
// under the state dir.
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// CheckVolumeName checks a named volume's name (docker's rule), which is
// one directory under <state>/volumes.
func CheckVolumeName(name string) error {
	if !volumeNameRE.MatchString(name) {
		return fmt.Errorf("%q is not a volume name: use letters, digits and _.- (not first)", name)
	}
	return model.Elem(name)
}

// CheckSubPath checks a volume subpath: relative, and inside the volume.
func CheckSubPath(sub string) error {
	if err := model.NoControl(sub); err != nil {
		return err
	}
	if clean := path.Clean(sub); path.IsAbs(sub) || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("%q must be a relative path inside the volume", sub)
	}
	return nil
}

// dns1123Label is Kubernetes' rule for container names and hostnames.
var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// dns1123Subdomain is Kubernetes' rule for object names.
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// CheckDNSLabel checks a DNS-1123 label: at most 63 lowercase letters,
// digits and '-', starting and ending with a letter or digit.
func CheckDNSLabel(s string) error {
	if len(s) > 63 || !dns1123Label.MatchString(s) {
		return fmt.Errorf("%q is not a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)", s)
	}
	return nil
}

// CheckDNSSubdomain checks a DNS-1123 subdomain: labels joined by '.', at
// most 253 characters.
func CheckDNSSubdomain(s string) error {
	if len(s) > 253 || !dns1123Subdomain.MatchString(s) {
		return fmt.Errorf("%q is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)", s)
	}
	return nil
}

// checkUnitValue refuses an x-berth.unit value that could end its line in
// a unit file or continue it: a control character (systemd ends a line at
// '\n' and at '\r') or a trailing backslash. units checks it again.
func checkUnitValue(v string) error {
	if err := model.NoControl(v); err != nil {
		return err
	}
	if strings.HasSuffix(v, `\`) {
		return fmt.Errorf("%q ends in a backslash, which would continue the line", v)
	}
	return nil
}
