package units

import (
	"strconv"

	"github.com/berth-dev/berth/compose/model"
)

// resources puts the cgroup limits on the unit, so that `systemctl show`
// reports them and the container's cgroup, nested below the unit's,
// inherits them.
func resources(u *Unit, r model.Resources) {
	if r.MemoryMax > 0 {
		u.add("Service", "MemoryMax", strconv.FormatInt(r.MemoryMax, 10))
	}
	if r.MemoryReservation > 0 {
		// docker's reservation is a soft floor; cgroup v2's memory.low is
		// the same idea (systemd ignores it on the v1 hierarchy).
		u.add("Service", "MemoryLow", strconv.FormatInt(r.MemoryReservation, 10))
	}
	switch {
	case r.MemorySwapMax < 0:
		u.add("Service", "MemorySwapMax", "infinity")
	case r.MemorySwapMax > 0:
		u.add("Service", "MemorySwapMax", strconv.FormatInt(r.MemorySwapMax, 10))
	}
	if r.CPUs > 0 {
		u.add("Service", "CPUQuota", strconv.Itoa(int(r.CPUs*100+0.5))+"%")
	}
	if r.CPUShares > 0 {
		u.add("Service", "CPUWeight", strconv.FormatInt(CPUWeight(r.CPUShares), 10))
	}
	if r.PidsMax > 0 {
		u.add("Service", "TasksMax", strconv.FormatInt(r.PidsMax, 10))
	}
}

// CPUWeight converts docker's cpu_shares (2..262144, default 1024) to
// systemd's CPUWeight (1..10000, default 100) proportionally, so the
// default maps to the default and relative weights between services stay.
func CPUWeight(shares int64) int64 {
	w := shares * 100 / 1024
	return max(1, min(w, 10000))
}
