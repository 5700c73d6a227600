package reconciler

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

// Limits are the cgroup properties of a unit that `systemctl set-property`
// can change by hand. Unset ones are Infinity, as systemd reports them.
type Limits struct {
	MemoryMax          uint64
	TasksMax           uint64
	CPUQuotaPerSecUSec uint64
}

// Infinity is systemd's value of an unset limit.
const Infinity = ^uint64(0)

// wantLimit is one limit the unit berth renders sets (or leaves unset).
type wantLimit struct {
	name string
	want uint64
	got  func(*Limits) uint64
}

// desiredLimits renders svc's unit and returns the limits to compare with
// what systemd reports: unset ones as Infinity, except TasksMax (systemd's
// default applies, no fixed value) and values that cannot be compared
// (percentages of the host), which are left out. Never nil.
func desiredLimits(svc *model.Service) []wantLimit {
	out := []wantLimit{}
	set, err := units.Build(units.Config{}, svc, "")
	if err != nil {
		return out
	}
	u := set.Service
	check := []struct {
		name    string
		got     func(*Limits) uint64
		parse   func(string) (uint64, bool)
		unsetOK bool // an unset property has no fixed value to compare
	}{
		{"MemoryMax", func(l *Limits) uint64 { return l.MemoryMax }, parseBytes, false},
		{"TasksMax", func(l *Limits) uint64 { return l.TasksMax }, parseCount, true},
		{"CPUQuota", func(l *Limits) uint64 { return l.CPUQuotaPerSecUSec }, parseQuota, false},
	}
	for _, c := range check {
		v, set := u.Value("Service", c.name)
		want := Infinity
		if set {
			w, ok := c.parse(v)
			if !ok {
				continue
			}
			want = w
		} else if c.unsetOK {
			continue
		}
		out = append(out, wantLimit{name: c.name, want: want, got: c.got})
	}
	return out
}

// limitsDrift compares the limits systemd reports with the wanted ones
// (desiredLimits) and names the first that differs; "" when they agree or
// got is unknown.
func limitsDrift(want []wantLimit, got *Limits) string {
	if got == nil {
		return ""
	}
	for _, w := range want {
		if g := w.got(got); g != w.want {
			return fmt.Sprintf("%s changed by hand (%s, want %s)", w.name, show(g), show(w.want))
		}
	}
	return ""
}

func show(v uint64) string {
	if v == Infinity {
		return "infinity"
	}
	return strconv.FormatUint(v, 10)
}

// parseBytes reads a systemd size: bytes with an optional K, M, G or T
// (base 1024) suffix, or infinity. Percentages are not comparable.
func parseBytes(s string) (uint64, bool) {
	if s == "infinity" {
		return Infinity, true
	}
	mult := uint64(1)
	for i, suf := range []string{"K", "M", "G", "T"} {
		if strings.HasSuffix(s, suf) {
			mult = 1 << (10 * (i + 1))
			s = strings.TrimSuffix(s, suf)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n * mult, err == nil
}

func parseCount(s string) (uint64, bool) {
	if s == "infinity" {
		return Infinity, true
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// parseQuota reads CPUQuota=N% as microseconds per second.
func parseQuota(s string) (uint64, bool) {
	pct, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseFloat(pct, 64)
	return uint64(n * 10000), err == nil
}
