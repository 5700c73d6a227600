// Package inspect reads what runs in a berth unit and what it uses, from
// /proc and the unit's cgroup (v1, hybrid or v2), for berth top and berth
// stats. It only reads.
package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// FS is where the kernel's files are; the zero value is the host's.
type FS struct {
	Proc   string // default /proc
	Cgroup string // default /sys/fs/cgroup
	// ClockTicks is USER_HZ (default 100), the unit of /proc/<pid>/stat times.
	ClockTicks int64
}

func (f FS) proc(p ...string) string {
	root := f.Proc
	if root == "" {
		root = "/proc"
	}
	return filepath.Join(append([]string{root}, p...)...)
}

func (f FS) cgroup(p ...string) string {
	root := f.Cgroup
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	return filepath.Join(append([]string{root}, p...)...)
}

func (f FS) ticks() int64 {
	if f.ClockTicks > 0 {
		return f.ClockTicks
	}
	return 100
}

// Process is one line of berth top.
type Process struct {
	PID int `json:"pid"` // as seen from berth
	// ContainerPID is the PID inside the container's PID namespace (the
	// last NSpid), equal to PID for a process of the host's namespace.
	ContainerPID int    `json:"container_pid"`
	UID          int    `json:"uid"`
	User         string `json:"user"` // name from the container's /etc/passwd, else the uid
	// CPU is the percentage of one CPU used over the process's lifetime,
	// as ps reports %CPU.
	CPU     float64 `json:"cpu_percent"`
	RSS     uint64  `json:"rss_bytes"`
	Command string  `json:"command"`
}

// Processes lists the processes whose cgroup is cgroup (a unit's
// ControlGroup, as systemd reports it) or below it, ordered by PID. It
// reads each process's own cgroup membership from /proc, so it works the
// same on v1 (the name=systemd hierarchy), hybrid and v2.
func (f FS) Processes(cgroup string) ([]Process, error) {
	ents, err := os.ReadDir(f.proc())
	if err != nil {
		return nil, err
	}
	uptime, err := f.uptime()
	if err != nil {
		return nil, err
	}
	var out []Process
	names := map[string]map[int]string{} // passwd by the root it was read from
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !f.inCgroup(pid, cgroup) {
			continue
		}
		p, err := f.process(pid, uptime)
		if err != nil {
			continue // exited meanwhile
		}
		p.User = userName(names, f.proc(e.Name(), "root"), p.UID)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out, nil
}

// inCgroup reports whether pid's cgroup in the v2 or name=systemd
// hierarchy is cg or below it.
func (f FS) inCgroup(pid int, cg string) bool {
	b, err := os.ReadFile(f.proc(strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return false
	}
	cg = strings.TrimSuffix(cg, "/")
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || (parts[1] != "" && parts[1] != "name=systemd") {
			continue
		}
		if parts[2] == cg || strings.HasPrefix(parts[2], cg+"/") {
			return true
		}
	}
	return false
}

func (f FS) uptime() (float64, error) {
	b, err := os.ReadFile(f.proc("uptime"))
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, fmt.Errorf("parsing %s: empty", f.proc("uptime"))
	}
	return strconv.ParseFloat(fields[0], 64)
}

func (f FS) process(pid int, uptime float64) (Process, error) {
	p := Process{PID: pid, ContainerPID: pid}
	dir := f.proc(strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return p, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "Uid":
			p.UID, _ = strconv.Atoi(fields[0])
		case "NSpid":
			p.ContainerPID, _ = strconv.Atoi(fields[len(fields)-1])
		case "VmRSS":
			kb, _ := strconv.ParseUint(fields[0], 10, 64)
			p.RSS = kb << 10
		}
	}
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return p, err
	}
	// Fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return p, fmt.Errorf("parsing %s/stat", dir)
	}
	rest := strings.Fields(string(stat[i+1:]))
	if len(rest) < 20 {
		return p, fmt.Errorf("parsing %s/stat: short", dir)
	}
	utime, _ := strconv.ParseFloat(rest[11], 64)
	stime, _ := strconv.ParseFloat(rest[12], 64)
	start, _ := strconv.ParseFloat(rest[19], 64)
	ticks := float64(f.ticks())
	if age := uptime - start/ticks; age > 0 {
		p.CPU = 100 * (utime + stime) / ticks / age
	}
	cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	p.Command = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if p.Command == "" {
		p.Command = "[" + string(stat[bytes.IndexByte(stat, '(')+1:i]) + "]"
	}
	return p, nil
}

// userName names uid from the passwd file under root (the process's own
// root, so a container's users are named as the container names them).
func userName(cache map[string]map[int]string, root string, uid int) string {
	m, ok := cache[root]
	if !ok {
		m = map[int]string{}
		// An absolute symlink under /proc/<pid>/root would resolve on
		// the host: securejoin keeps it inside the container's root.
		passwd, err := securejoin.SecureJoin(root, "/etc/passwd")
		if b, rerr := os.ReadFile(passwd); err == nil && rerr == nil {
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Split(line, ":")
				if len(f) >= 3 {
					if id, err := strconv.Atoi(f[2]); err == nil {
						if _, seen := m[id]; !seen {
							m[id] = f[0]
						}
					}
				}
			}
		}
		cache[root] = m
	}
	if n, ok := m[uid]; ok {
		return n
	}
	return strconv.Itoa(uid)
}
