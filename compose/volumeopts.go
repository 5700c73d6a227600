package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/compose-spec/compose-go/v2/types"
)

// localVolumeMount maps a service's mount of a named volume whose local
// driver_opts make it something other than a directory under berth's
// state dir, as docker's local driver would mount it:
//
//   - type: none, o: bind, device: PATH → a bind mount of PATH;
//   - type: tmpfs (o: size=…,mode=…) → a tmpfs for this container.
//
// ok is false for a volume without such options: it stays a named volume.
// Other types (nfs, cifs, a block device) are warned about by fields.go
// and stay a plain volume.
func (l *loader) localVolumeMount(c svcAt, field []string, v types.ServiceVolumeConfig) (model.Mount, bool, error) {
	vc, ok := l.cp.Volumes[v.Source]
	if !ok || len(vc.DriverOpts) == 0 || (vc.Driver != "" && vc.Driver != "local") {
		return model.Mount{}, false, nil
	}
	opts := vc.DriverOpts
	m := model.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
	switch opts["type"] {
	case "none":
		if !hasOption(opts["o"], "bind") || opts["device"] == "" {
			return model.Mount{}, false, nil
		}
		m.Type, m.Source = model.MountBind, opts["device"]
		if !filepath.IsAbs(m.Source) {
			m.Source = filepath.Join(l.dir, m.Source)
		}
		if _, err := os.Stat(m.Source); err != nil {
			return m, true, c.errorf(field, "volume %q: driver_opts.device %s: %v (docker's local driver needs it to exist too)", v.Source, m.Source, err)
		}
		return m, true, nil
	case "tmpfs":
		t, err := parseTmpfs(c, field, v.Target+":"+opts["o"])
		if err != nil {
			return m, true, err
		}
		t.ReadOnly = t.ReadOnly || v.ReadOnly
		return t, true, nil
	}
	return model.Mount{}, false, nil
}

// hasOption tells whether a mount option list ("bind,ro") holds opt.
func hasOption(list, opt string) bool {
	for _, o := range strings.Split(list, ",") {
		if strings.TrimSpace(o) == opt || strings.TrimSpace(o) == "r"+opt {
			return true
		}
	}
	return false
}

// volumeDriverOptsWarning returns why a volume's local driver_opts are not
// carried out, "" when they are (see localVolumeMount).
func volumeDriverOptsWarning(opts map[string]string) string {
	switch t := opts["type"]; {
	case t == "none" && hasOption(opts["o"], "bind") && opts["device"] != "":
		return ""
	case t == "tmpfs":
		return ""
	case t == "":
		return "driver_opts without a type are ignored"
	default:
		return fmt.Sprintf("driver_opts type %q is not supported yet; the volume is a plain directory under berth's state dir", t)
	}
}
