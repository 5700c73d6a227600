package kube

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// quantitySuffixes are Kubernetes' binary and decimal multipliers.
var quantitySuffixes = []struct {
	suffix string
	mult   float64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"Pi", 1 << 50}, {"Ei", 1 << 60},
	{"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15}, {"E", 1e18},
}

// parseQuantity reads a Kubernetes quantity: "500m", "0.5", "64Mi", "1G",
// "129e6".
func parseQuantity(s string) (float64, error) {
	num, mult := strings.TrimSpace(s), 1.0
	for _, q := range quantitySuffixes {
		if n, ok := strings.CutSuffix(num, q.suffix); ok && n != "" && !strings.ContainsAny(n[len(n)-1:], "eE") {
			num, mult = n, q.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("invalid quantity %q (examples: 500m, 0.5, 64Mi, 1G)", s)
	}
	return f * mult, nil
}

// resources maps limits to the unit's cgroup limits and requests to weights
// and reservations: cpu limit → CPUQuota, memory limit → MemoryMax, memory
// request → MemoryLow, cpu request → CPU shares (the kubelet's formula,
// 1 CPU = 1024 shares).
func (o *objects) resources(c *Container, path string) (model.Resources, error) {
	var r model.Resources
	if c.Resources == nil {
		return r, nil
	}
	d := o.workload
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"limits", c.Resources.Limits}, {"requests", c.Resources.Requests}} {
		for _, k := range sortedKeys(part.m) {
			p := path + ".resources." + part.name + "." + k
			v, err := parseQuantity(part.m[k])
			if err != nil {
				return r, d.errf(p, "%v", err)
			}
			switch {
			case k == "cpu" && part.name == "limits":
				r.CPUs = v
			case k == "memory" && part.name == "limits":
				r.MemoryMax = int64(math.Ceil(v))
			case k == "cpu":
				r.CPUShares = max(2, int64(v*1024))
			case k == "memory":
				r.MemoryReservation = int64(math.Ceil(v))
			default:
				o.warnf(p, "resource %s is not supported; ignored", k)
			}
		}
	}
	return r, nil
}

// warnf records a warning naming file, line, object and field.
func (o *objects) warnf(path, format string, args ...any) {
	d := o.workload
	o.warnings = append(o.warnings, fmt.Sprintf("%s: %s %s: %s: %s", d.where(path), d.meta.Kind, d.name, path, fmt.Sprintf(format, args...)))
}

// formatCPU writes CPUs as a quantity: "500m", "2".
func formatCPU(cpus float64) string {
	milli := int64(math.Round(cpus * 1000))
	if milli%1000 == 0 {
		return strconv.FormatInt(milli/1000, 10)
	}
	return strconv.FormatInt(milli, 10) + "m"
}

// formatBytes writes bytes in the largest binary unit that divides them.
func formatBytes(n int64) string {
	for _, u := range []struct {
		s string
		v int64
	}{{"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n >= u.v && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
