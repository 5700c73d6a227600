package inspect

import (
	"bufio"
	"errors"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is one reading of a unit's cgroup and its container's network
// namespace. Counters are cumulative; Rate turns two samples into docker
// stats' columns.
type Sample struct {
	At       time.Time
	CPUNanos uint64
	// Memory is the usage docker stats shows: the cgroup's usage minus
	// its inactive page cache.
	Memory uint64
	// Limit is the cgroup's memory limit, or the host's memory without one.
	Limit            uint64
	NetRx, NetTx     uint64
	BlockRd, BlockWr uint64
	PIDs             uint64
}

// Sample reads cgroup (a unit's ControlGroup) and the network namespace of
// pid (the container's PID 1; 0 skips the network). It reads v2 files
// (pure v2, or the unified hierarchy of a hybrid host) where the
// controllers are there, else v1's per-controller hierarchies.
func (f FS) Sample(cgroup string, pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	var err error
	if f.isV2(cgroup) {
		err = f.sampleV2(cgroup, &s)
	} else {
		err = f.sampleV1(cgroup, &s)
	}
	if err != nil {
		return s, err
	}
	if s.Limit == 0 || s.Limit >= math.MaxInt64/2 {
		s.Limit = f.memTotal()
	}
	if pid > 0 {
		s.NetRx, s.NetTx = f.netDev(pid)
	}
	return s, nil
}

// isV2 reports whether the unit's cgroup is a v2 cgroup at the cgroup
// root, as on a pure v2 host; a hybrid host keeps v2 under "unified",
// without controllers, and is read through v1.
func (f FS) isV2(cg string) bool {
	_, err := os.Stat(f.cgroup(cg, "cgroup.controllers"))
	return err == nil
}

func (f FS) sampleV2(cg string, s *Sample) error {
	// cpu.stat is there whatever controllers are enabled; the others read
	// 0 when the unit has no accounting for them.
	cpu, err := keyed(f.cgroup(cg, "cpu.stat"))
	if err != nil {
		return err
	}
	s.CPUNanos = cpu["usage_usec"] * 1000
	s.Memory = minus(readUint(f.cgroup(cg, "memory.current")), statKey(f.cgroup(cg, "memory.stat"), "inactive_file"))
	s.Limit = readUint(f.cgroup(cg, "memory.max")) // "max" reads as 0
	s.PIDs = readUint(f.cgroup(cg, "pids.current"))
	s.BlockRd, s.BlockWr = ioStatV2(f.cgroup(cg, "io.stat"))
	return nil
}

func (f FS) sampleV1(cg string, s *Sample) error {
	usage := f.cgroup("cpu,cpuacct", cg, "cpuacct.usage")
	if _, err := os.Stat(usage); errors.Is(err, fs.ErrNotExist) {
		usage = f.cgroup("cpuacct", cg, "cpuacct.usage")
	}
	if _, err := os.Stat(usage); err != nil {
		return err
	}
	s.CPUNanos = readUint(usage)
	s.Memory = minus(readUint(f.cgroup("memory", cg, "memory.usage_in_bytes")),
		statKey(f.cgroup("memory", cg, "memory.stat"), "total_inactive_file"))
	s.Limit = readUint(f.cgroup("memory", cg, "memory.limit_in_bytes"))
	s.PIDs = readUint(f.cgroup("pids", cg, "pids.current"))
	s.BlockRd, s.BlockWr = blkioV1(f.cgroup("blkio", cg, "blkio.throttle.io_service_bytes_recursive"))
	return nil
}

// netDev sums the interfaces of pid's network namespace but loopback.
func (f FS) netDev(pid int) (rx, tx uint64) {
	file, err := os.Open(f.proc(strconv.Itoa(pid), "net", "dev"))
	if err != nil {
		return 0, 0
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) >= 9 {
			r, _ := strconv.ParseUint(fields[0], 10, 64)
			t, _ := strconv.ParseUint(fields[8], 10, 64)
			rx, tx = rx+r, tx+t
		}
	}
	return rx, tx
}

func (f FS) memTotal() uint64 {
	m, err := keyed(f.proc("meminfo"))
	if err != nil {
		return 0
	}
	return m["MemTotal:"] << 10
}

// keyed reads "key value" lines.
func keyed(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			out[f[0]], _ = strconv.ParseUint(f[1], 10, 64)
		}
	}
	return out, nil
}

func statKey(path, key string) uint64 {
	m, _ := keyed(path)
	return m[key]
}

func readUint(path string) uint64 {
	b, _ := os.ReadFile(path)
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

func minus(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// ioStatV2 sums rbytes and wbytes over the devices of an io.stat file.
func ioStatV2(path string) (rd, wr uint64) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "rbytes":
				rd += n
			case "wbytes":
				wr += n
			}
		}
	}
	return rd, wr
}

// blkioV1 sums the Read and Write lines of blkio's io_service_bytes.
func blkioV1(path string) (rd, wr uint64) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch f[1] {
		case "Read":
			rd += n
		case "Write":
			wr += n
		}
	}
	return rd, wr
}

// Usage is docker stats' row for one interval.
type Usage struct {
	CPUPercent    float64 `json:"cpu_percent"`
	MemoryBytes   uint64  `json:"memory_bytes"`
	LimitBytes    uint64  `json:"memory_limit_bytes"`
	MemoryPercent float64 `json:"memory_percent"`
	NetRxBytes    uint64  `json:"net_rx_bytes"`
	NetTxBytes    uint64  `json:"net_tx_bytes"`
	BlockRead     uint64  `json:"block_read_bytes"`
	BlockWrite    uint64  `json:"block_write_bytes"`
	PIDs          uint64  `json:"pids"`
}

// Rate is the usage between two samples: CPU as a percentage of one CPU
// (200% is two CPUs busy, as docker shows it), the rest as of cur.
func Rate(prev, cur Sample) Usage {
	u := Usage{MemoryBytes: cur.Memory, LimitBytes: cur.Limit, NetRxBytes: cur.NetRx, NetTxBytes: cur.NetTx,
		BlockRead: cur.BlockRd, BlockWrite: cur.BlockWr, PIDs: cur.PIDs}
	if d := cur.At.Sub(prev.At); d > 0 && cur.CPUNanos >= prev.CPUNanos {
		u.CPUPercent = 100 * float64(cur.CPUNanos-prev.CPUNanos) / float64(d.Nanoseconds())
	}
	if cur.Limit > 0 {
		u.MemoryPercent = 100 * float64(cur.Memory) / float64(cur.Limit)
	}
	return u
}
