package runtime

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
)

// rlimitTypes maps compose's ulimit names to the kernel's resources.
var rlimitTypes = map[string]int{
	"as":         unix.RLIMIT_AS,
	"core":       unix.RLIMIT_CORE,
	"cpu":        unix.RLIMIT_CPU,
	"data":       unix.RLIMIT_DATA,
	"fsize":      unix.RLIMIT_FSIZE,
	"locks":      unix.RLIMIT_LOCKS,
	"memlock":    unix.RLIMIT_MEMLOCK,
	"msgqueue":   unix.RLIMIT_MSGQUEUE,
	"nice":       unix.RLIMIT_NICE,
	"nofile":     unix.RLIMIT_NOFILE,
	"nproc":      unix.RLIMIT_NPROC,
	"rss":        unix.RLIMIT_RSS,
	"rtprio":     unix.RLIMIT_RTPRIO,
	"rttime":     unix.RLIMIT_RTTIME,
	"sigpending": unix.RLIMIT_SIGPENDING,
	"stack":      unix.RLIMIT_STACK,
}

// rlimits is the process's rlimits: the service's ulimits, plus nofile at
// defaultNofile (capped at berth's own hard limit) when the service sets no
// nofile. A ulimit whose hard value exceeds berth's own hard limit is an
// error naming both: raising it silently or lowering it silently would both
// surprise; raise LimitNOFILE= (etc.) of berth's unit instead. A negative
// value (compose's -1) means unlimited.
func rlimits(ulimits map[string]model.Ulimit, own func(resource int) (unix.Rlimit, error)) ([]specs.POSIXRlimit, error) {
	names := make([]string, 0, len(ulimits))
	for n := range ulimits {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []specs.POSIXRlimit
	for _, n := range names {
		u := ulimits[n]
		res, ok := rlimitTypes[strings.ToLower(n)]
		if !ok {
			return nil, fmt.Errorf("ulimits: unknown limit %q (valid: %s)", n, strings.Join(rlimitNames(), ", "))
		}
		soft, hard := rlimitValue(u.Soft), rlimitValue(u.Hard)
		if soft > hard {
			return nil, fmt.Errorf("ulimits: %s: soft limit %s is above the hard limit %s", n, rlimitString(soft), rlimitString(hard))
		}
		max, err := own(res)
		if err != nil {
			return nil, fmt.Errorf("reading berth's own %s limit: %w", n, err)
		}
		if hard > max.Max {
			return nil, fmt.Errorf("ulimits: %s: hard limit %s is above berth's own hard limit %s; raise the limit of berth's unit or lower the service's",
				n, rlimitString(hard), rlimitString(max.Max))
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(n), Soft: soft, Hard: hard})
	}
	if !hasNofile(ulimits) {
		max, err := own(unix.RLIMIT_NOFILE)
		if err != nil {
			return nil, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
		}
		n := min(uint64(defaultNofile), max.Max)
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: n, Hard: n})
	}
	return out, nil
}

func rlimitValue(v int64) uint64 {
	if v < 0 {
		return unix.RLIM_INFINITY
	}
	return uint64(v)
}

func rlimitString(v uint64) string {
	if v == unix.RLIM_INFINITY || v == math.MaxUint64 {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

func rlimitNames() []string {
	out := make([]string, 0, len(rlimitTypes))
	for n := range rlimitTypes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ownRlimit reads the launcher's own limit.
func ownRlimit(resource int) (unix.Rlimit, error) {
	var rl unix.Rlimit
	err := unix.Getrlimit(resource, &rl)
	return rl, err
}

// processRlimits converts the spec's rlimits for libcontainer.Process.
func processRlimits(in []specs.POSIXRlimit) ([]configs.Rlimit, error) {
	var out []configs.Rlimit
	for _, r := range in {
		res, ok := rlimitTypes[strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))]
		if !ok {
			return nil, fmt.Errorf("unsupported rlimit %s", r.Type)
		}
		out = append(out, configs.Rlimit{Type: res, Hard: r.Hard, Soft: r.Soft})
	}
	return out, nil
}

func hasNofile(ulimits map[string]model.Ulimit) bool {
	for n := range ulimits {
		if strings.EqualFold(n, "nofile") {
			return true
		}
	}
	return false
}
