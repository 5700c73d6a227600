package compose

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/compose-spec/compose-go/v2/types"
)

// resources merges the short fields (mem_limit, cpus, pids_limit …) with
// deploy.resources; the deploy form wins, as in docker compose.
func (l *loader) resources(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	r := model.Resources{
		MemoryMax:         int64(sc.MemLimit),
		MemoryReservation: int64(sc.MemReservation),
		CPUs:              roundCPUs(sc.CPUS),
		CPUShares:         sc.CPUShares,
		PidsMax:           sc.PidsLimit,
	}
	if sc.Deploy != nil {
		if lim := sc.Deploy.Resources.Limits; lim != nil {
			if lim.MemoryBytes > 0 {
				r.MemoryMax = int64(lim.MemoryBytes)
			}
			if lim.NanoCPUs > 0 {
				r.CPUs = roundCPUs(float32(lim.NanoCPUs))
			}
			if lim.Pids > 0 {
				r.PidsMax = lim.Pids
			}
		}
		if res := sc.Deploy.Resources.Reservations; res != nil && res.MemoryBytes > 0 {
			r.MemoryReservation = int64(res.MemoryBytes)
		}
	}
	switch swap := int64(sc.MemSwapLimit); {
	case swap == 0:
	case swap == -1:
		r.MemorySwapMax = -1
	case r.MemoryMax == 0:
		return c.errorf([]string{"memswap_limit"}, "needs a memory limit (mem_limit or deploy.resources.limits.memory)")
	case swap < r.MemoryMax:
		return c.errorf([]string{"memswap_limit"}, "%d is below the memory limit %d; it counts memory plus swap", swap, r.MemoryMax)
	case swap == r.MemoryMax:
		r.MemorySwapMax = model.SwapDisabled
	default:
		r.MemorySwapMax = swap - r.MemoryMax
	}
	if r.CPUShares < 0 || r.CPUShares > 262144 {
		return c.errorf([]string{"cpu_shares"}, "%d is outside 2..262144", r.CPUShares)
	}
	s.Resources = r
	return nil
}

// roundCPUs drops float32 noise ("0.1" is 0.100000001) so hashes and unit
// properties read as written.
func roundCPUs(v float32) float64 { return math.Round(float64(v)*1e6) / 1e6 }

// security fills Security from privileged, cap_add/cap_drop, security_opt,
// ulimits and sysctls.
func (l *loader) security(c svcAt, sc types.ServiceConfig, s *model.Service) error {
	sec := model.Security{Privileged: sc.Privileged}
	var errs []error
	var err error
	if sec.CapAdd, err = capabilities(c, "cap_add", sc.CapAdd); err != nil {
		errs = append(errs, err)
	}
	if sec.CapDrop, err = capabilities(c, "cap_drop", sc.CapDrop); err != nil {
		errs = append(errs, err)
	}
	for i, opt := range sc.SecurityOpt {
		if err := l.securityOpt(c, []string{"security_opt", strconv.Itoa(i)}, opt, &sec); err != nil {
			errs = append(errs, err)
		}
	}
	for name, u := range sc.Ulimits {
		field := []string{"ulimits", name}
		if !slices.Contains(ulimitNames, name) {
			errs = append(errs, c.errorf(field, "unknown ulimit (valid: %s)", strings.Join(ulimitNames, ", ")))
			continue
		}
		ul := model.Ulimit{Soft: int64(u.Soft), Hard: int64(u.Hard)}
		if u.Single != 0 {
			ul = model.Ulimit{Soft: int64(u.Single), Hard: int64(u.Single)}
		}
		if ul.Soft > ul.Hard && ul.Hard >= 0 {
			errs = append(errs, c.errorf(field, "soft limit %d is above hard limit %d", ul.Soft, ul.Hard))
			continue
		}
		if sec.Ulimits == nil {
			sec.Ulimits = map[string]model.Ulimit{}
		}
		sec.Ulimits[name] = ul
	}
	for key, v := range sc.Sysctls {
		field := []string{"sysctls", key}
		switch {
		case !namespacedSysctl(key):
			errs = append(errs, c.errorf(field, "%q is not a namespaced sysctl; it would change the host (allowed: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)", key))
			continue
		case strings.HasPrefix(key, "net.") && sc.NetworkMode == "host":
			errs = append(errs, c.errorf(field, "%q would change the host's network namespace (network_mode: host)", key))
			continue
		}
		if sec.Sysctls == nil {
			sec.Sysctls = map[string]string{}
		}
		sec.Sysctls[key] = v
	}
	s.Security = sec
	return joinErrs(errs)
}

// NamespacedSysctl tells whether key belongs to a namespace the container
// owns (IPC or network), the same set docker and runc accept.
func NamespacedSysctl(key string) bool { return namespacedSysctl(key) }

func namespacedSysctl(key string) bool {
	switch key {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return true
	}
	return strings.HasPrefix(key, "fs.mqueue.") || strings.HasPrefix(key, "net.")
}

var ulimitNames = []string{"as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

// capabilities normalises capability names to "CAP_X" (or "ALL"), in their
// order without duplicates, and refuses names Linux does not know.
func capabilities(c svcAt, field string, in []string) ([]string, error) {
	var out []string
	var errs []error
	for i, name := range in {
		n := strings.ToUpper(strings.TrimSpace(name))
		if n != "ALL" && !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		if n != "ALL" && !slices.Contains(capabilityNames, n) {
			errs = append(errs, c.errorf([]string{field, strconv.Itoa(i)}, "unknown capability %q", name))
			continue
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, joinErrs(errs)
}

// KnownCapability tells whether name ("CAP_X" or "X", any case) is a
// capability Linux knows, or ALL.
func KnownCapability(name string) bool {
	n := strings.ToUpper(name)
	return n == "ALL" || slices.Contains(capabilityNames, n) || slices.Contains(capabilityNames, "CAP_"+n)
}

// capabilityNames are Linux's capabilities up to CAP_CHECKPOINT_RESTORE (5.9).
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// securityOpt reads one security_opt entry; docker accepts both "k=v" and
// the older "k:v".
func (l *loader) securityOpt(c svcAt, field []string, opt string, sec *model.Security) error {
	k, v, hasValue := strings.Cut(opt, "=")
	if !hasValue {
		k, v, hasValue = strings.Cut(opt, ":")
	}
	switch k {
	case "no-new-privileges":
		if !hasValue {
			sec.NoNewPrivileges = true
			return nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c.errorf(field, "no-new-privileges value %q must be true or false", v)
		}
		sec.NoNewPrivileges = b
	case "seccomp":
		switch {
		case v == "unconfined":
			sec.Seccomp = "unconfined"
		case v == "":
			return c.errorf(field, "seccomp needs unconfined or a profile file")
		default:
			path := v
			if !filepath.IsAbs(path) {
				path = filepath.Join(l.dir, path)
			}
			if _, err := os.Stat(path); err != nil {
				return c.errorf(field, "seccomp profile: %v", err)
			}
			sec.Seccomp = path
		}
	case "apparmor", "label":
		c.warnf(field, "%q is ignored; berth does not apply AppArmor or SELinux labels", opt)
	default:
		return c.errorf(field, "unknown option %q (valid: no-new-privileges, seccomp=unconfined|FILE, apparmor=…, label=…)", opt)
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
