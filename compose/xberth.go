package compose

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berth-dev/berth/compose/model"
)

// xberthKey is berth's service extension.
const xberthKey = "x-berth"

// sdnotifyLabel is podman's label for the notify mode.
const sdnotifyLabel = "io.containers.sdnotify"

// AutoUpdate policies x-berth.autoupdate accepts.
var autoUpdatePolicies = []string{"registry", "local", "disabled"}

// xberth reads the x-berth extension and podman's sdnotify label:
//
//	x-berth:
//	  notify: true | false | container | healthy
//	  sockets: [{listen: "127.0.0.1:8080", accept: false, name: web}]
//	  unit: {CPUWeight: 50, After: [foo.mount]}
//	  autoupdate: registry | local | disabled
//	  soak: 30s
//
// Unit property names are not checked here; units owns their allow-list.
func (l *loader) xberth(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	switch sc.Labels[sdnotifyLabel] {
	case "container":
		s.Notify = model.NotifyContainer
	case "healthy":
		s.Notify = model.NotifyHealthy
	}
	var errs []error
	if raw, ok := sc.Extensions[xberthKey]; ok {
		ext, ok := raw.(map[string]any)
		if !ok && raw != nil {
			return c.errorf([]string{xberthKey}, "must be a mapping")
		}
		for _, key := range sortedKeys(ext) {
			v := ext[key]
			field := []string{xberthKey, key}
			var err error
			switch key {
			case "notify":
				err = xNotify(c, field, v, s)
			case "sockets":
				s.Sockets, err = xSockets(c, field, v)
			case "unit":
				s.Unit, err = xUnit(c, field, v)
			case "autoupdate":
				p, _ := v.(string)
				if !contains(autoUpdatePolicies, p) {
					err = c.errorf(field, "%v is not a policy (valid: %s)", v, strings.Join(autoUpdatePolicies, ", "))
				}
				s.AutoUpdate = p
			case "soak":
				s.Soak, err = xDuration(c, field, v)
			default:
				c.warnf(field, "unknown x-berth key is ignored (known: notify, sockets, unit, autoupdate, soak)")
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	if s.Notify == model.NotifyHealthy && s.Health == nil && s.ImageHealth == nil {
		errs = append(errs, c.errorf([]string{xberthKey, "notify"}, "healthy needs a healthcheck, and its healthcheck is disabled"))
	}
	if s.Accepts() {
		errs = append(errs, acceptRules(c, sc, s)...)
	}
	return joinErrs(errs)
}

func xNotify(c svcAt, field []string, v any, s *model.Service) error {
	switch v {
	case true, "true", "container":
		s.Notify = model.NotifyContainer
	case false, "false", "running":
		s.Notify = model.NotifyRunning
	case "healthy":
		s.Notify = model.NotifyHealthy
	default:
		return c.errorf(field, "%v is not a notify mode (valid: true, false, container, healthy)", v)
	}
	return nil
}

func xSockets(c svcAt, field []string, v any) ([]model.Socket, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, c.errorf(field, "must be a list of {listen, accept, name}")
	}
	var out []model.Socket
	var errs []error
	for i, item := range list {
		f := append(append([]string{}, field...), strconv.Itoa(i))
		var sock model.Socket
		switch it := item.(type) {
		case string:
			sock.Listen = it
		case map[string]any:
			for _, k := range sortedKeys(it) {
				val := it[k]
				switch k {
				case "listen":
					sock.Listen = fmt.Sprint(val)
				case "accept":
					b, ok := val.(bool)
					if !ok {
						errs = append(errs, c.errorf(append(f, k), "must be true or false"))
					}
					sock.Accept = b
				case "name":
					sock.Name = fmt.Sprint(val)
				default:
					c.warnf(append(f, k), "unknown socket key is ignored (known: listen, accept, name)")
				}
			}
		default:
			errs = append(errs, c.errorf(f, "must be a mapping {listen, accept, name}"))
			continue
		}
		if err := checkListen(sock.Listen); err != nil {
			errs = append(errs, c.errorf(append(f, "listen"), "%v", err))
			continue
		}
		if !fdName(sock.Name) {
			errs = append(errs, c.errorf(append(f, "name"), "%q: a name is printable ASCII without ':', quotes, backslashes or spaces, at most 255 characters", sock.Name))
			continue
		}
		out = append(out, sock)
	}
	return out, joinErrs(errs)
}

// fdName is systemd's rule for FileDescriptorName= (and berth's
// LISTEN_FDNAMES): printable ASCII except ':', here also without spaces,
// quotes or backslashes.
func fdName(s string) bool {
	if len(s) > 255 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(":\"'\\", r) {
			return false
		}
	}
	return true
}

// checkListen accepts "[host:]port", "udp:[host:]port" or an absolute path.
func checkListen(l string) error {
	if l == "" {
		return fmt.Errorf("is required")
	}
	if err := model.NoControl(l); err != nil {
		return err
	}
	if filepath.IsAbs(l) {
		if filepath.Clean(l) != l || strings.ContainsAny(l, " \t\\\"'") {
			return fmt.Errorf("%q: a unix socket path must be clean, without spaces, quotes or backslashes", l)
		}
		return nil
	}
	addr := strings.TrimPrefix(strings.TrimPrefix(l, "udp:"), "tcp:")
	i := strings.LastIndex(addr, ":")
	port := addr[i+1:]
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%q is not [host:]port, udp:[host:]port or an absolute unix socket path", l)
	}
	if host := strings.Trim(addr[:max(i, 0)], "[]"); host != "" && net.ParseIP(host) == nil {
		// units writes it into ListenStream=/ListenDatagram= as it is.
		return fmt.Errorf("%q: the host must be an IP address", l)
	}
	return nil
}

// unitListKeys are the x-berth.unit properties that list unit names; their
// words must be unit names (units owns the allow-list and checks again).
var unitListKeys = []string{"After", "Before", "Wants", "Requires", "BindsTo", "PartOf", "Conflicts"}

// checkUnitWords refuses a word of a unit-name list that has a character
// systemd does not allow in unit names: quotes, '%', '$' and the like.
func checkUnitWords(key, v string) error {
	if !contains(unitListKeys, key) {
		return nil
	}
	for _, w := range strings.Fields(v) {
		ok := unitTypes[w[strings.LastIndex(w, ".")+1:]] && strings.Contains(w, ".")
		for _, r := range w {
			ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":-_.\\@", r))
		}
		if !ok {
			return fmt.Errorf("%q is not a unit name (letters, digits and :-_.\\@, ending in a unit type such as .service)", w)
		}
	}
	return nil
}

// unitTypes are the suffixes of systemd unit names.
var unitTypes = map[string]bool{"service": true, "socket": true, "target": true, "device": true, "mount": true,
	"automount": true, "swap": true, "timer": true, "path": true, "slice": true, "scope": true}

// checkUnitEntry is checkUnitValue, then checkUnitWords, then the
// WithUnitCheck check.
func (c svcAt) checkUnitEntry(key, v string) error {
	if err := checkUnitValue(v); err != nil {
		return err
	}
	if err := checkUnitWords(key, v); err != nil {
		return err
	}
	if check := c.l.opts.unitCheck; check != nil {
		return check(key, v)
	}
	return nil
}

func xUnit(c svcAt, field []string, v any) (map[string][]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, c.errorf(field, "must be a mapping of unit properties")
	}
	out := map[string][]string{}
	var errs []error
	for _, k := range sortedKeys(m) {
		switch val := m[k].(type) {
		case []any:
			vals := []string{}
			for _, e := range val {
				s, ok := scalarString(e)
				if !ok {
					errs = append(errs, c.errorf(append(field, k), "list items must be scalars"))
					break
				}
				if err := c.checkUnitEntry(k, s); err != nil {
					errs = append(errs, c.errorf(append(field, k), "%v", err))
					break
				}
				vals = append(vals, s)
			}
			out[k] = vals
		default:
			s, ok := scalarString(val)
			if !ok {
				errs = append(errs, c.errorf(append(field, k), "must be a scalar or a list of scalars"))
				continue
			}
			if err := c.checkUnitEntry(k, s); err != nil {
				errs = append(errs, c.errorf(append(field, k), "%v", err))
				continue
			}
			out[k] = []string{s}
		}
	}
	return out, joinErrs(errs)
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case int, int64, uint64, float64:
		return fmt.Sprint(x), true
	}
	return "", false
}

func xDuration(c svcAt, field []string, v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		if err != nil || d < 0 {
			return 0, c.errorf(field, "%q is not a duration (e.g. 30s, 5m)", x)
		}
		return d, nil
	case int:
		return time.Duration(x) * time.Second, nil
	}
	return 0, c.errorf(field, "%v is not a duration (e.g. 30s, 5m)", v)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
