package inspect

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const unitCg = "/system.slice/berth-shop-web.service"

// fakeProc has pid 10 in the unit (container PID 1), 11 in the container's
// child cgroup (an exec), 12 elsewhere.
func fakeProc(t *testing.T) FS {
	root := t.TempDir()
	p := filepath.Join(root, "proc")
	write(t, filepath.Join(p, "uptime"), "1000.00 50.00\n")
	write(t, filepath.Join(p, "meminfo"), "MemTotal:        2048 kB\n")
	proc := func(pid, cg, nspid, uid, rssKB, stat, cmd, passwd string) {
		d := filepath.Join(p, pid)
		write(t, filepath.Join(d, "cgroup"), "4:memory:"+cg+"\n1:name=systemd:"+cg+"\n0::"+cg+"\n")
		write(t, filepath.Join(d, "status"), "Name:\tx\nUid:\t"+uid+"\t"+uid+"\t"+uid+"\t"+uid+"\nNSpid:\t"+nspid+"\nVmRSS:\t"+rssKB+" kB\n")
		write(t, filepath.Join(d, "stat"), stat)
		write(t, filepath.Join(d, "cmdline"), cmd)
		write(t, filepath.Join(d, "root", "etc", "passwd"), passwd)
	}
	// utime 300 + stime 100 ticks = 4 s over 800 s alive (start 200 s) = 0.5%.
	stat := "10 (sleep) S 1 10 10 0 -1 0 0 0 0 0 300 100 0 0 20 0 1 0 20000 0 0\n"
	proc("10", unitCg+"/shop-web", "10\t1", "0", "1024", stat, "sleep\x001000\x00", "root:x:0:0::/:/bin/sh\n")
	proc("11", unitCg+"/shop-web", "11\t7", "1234", "8", stat, "sh\x00", "app:x:1234:1234::/:/bin/sh\n")
	proc("12", "/system.slice/berth-shop-web2.service", "12", "0", "8", stat, "other\x00", "")
	return FS{Proc: p, Cgroup: filepath.Join(root, "cg")}
}

func TestProcessesOfUnit(t *testing.T) {
	f := fakeProc(t)
	ps, err := f.Processes(unitCg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("got %d processes, want 2 (not the one of the unit with a longer name): %+v", len(ps), ps)
	}
	if p := ps[0]; p.PID != 10 || p.ContainerPID != 1 || p.User != "root" || p.RSS != 1<<20 || p.Command != "sleep 1000" || p.CPU < 0.49 || p.CPU > 0.51 {
		t.Errorf("first process %+v", p)
	}
	if p := ps[1]; p.ContainerPID != 7 || p.User != "app" {
		t.Errorf("exec'd process %+v", p)
	}
}

func TestSampleV1AndV2(t *testing.T) {
	f := fakeProc(t)
	write(t, filepath.Join(f.Proc, "10", "net", "dev"), "Inter-|\n face |bytes\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n")
	v1 := func(c, file, v string) { write(t, filepath.Join(f.Cgroup, c, unitCg, file), v) }
	v1("cpu,cpuacct", "cpuacct.usage", "5000000000\n")
	v1("memory", "memory.usage_in_bytes", "3000\n")
	v1("memory", "memory.stat", "cache 10\ntotal_inactive_file 1000\n")
	v1("memory", "memory.limit_in_bytes", "9223372036854771712\n")
	v1("pids", "pids.current", "3\n")
	v1("blkio", "blkio.throttle.io_service_bytes_recursive", "8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n")
	s, err := f.Sample(unitCg, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{At: s.At, CPUNanos: 5e9, Memory: 2000, Limit: 2048 << 10, NetRx: 100, NetTx: 200, BlockRd: 10, BlockWr: 20, PIDs: 3}
	if s != want {
		t.Errorf("v1 sample %+v, want %+v", s, want)
	}

	v2 := func(file, v string) { write(t, filepath.Join(f.Cgroup, unitCg, file), v) }
	v2("cgroup.controllers", "cpu io memory pids\n")
	v2("cpu.stat", "usage_usec 7000000\nuser_usec 1\n")
	v2("memory.current", "5000\n")
	v2("memory.stat", "anon 1\ninactive_file 500\n")
	v2("memory.max", "16384\n")
	v2("pids.current", "2\n")
	v2("io.stat", "8:0 rbytes=5 wbytes=6 rios=1\n8:16 rbytes=1 wbytes=1\n")
	s2, err := f.Sample(unitCg, 0)
	if err != nil {
		t.Fatal(err)
	}
	want = Sample{At: s2.At, CPUNanos: 7e9, Memory: 4500, Limit: 16384, BlockRd: 6, BlockWr: 7, PIDs: 2}
	if s2 != want {
		t.Errorf("v2 sample %+v, want %+v", s2, want)
	}
	s2.At = s.At.Add(2 * time.Second)
	if u := Rate(s, s2); u.CPUPercent < 99.9 || u.CPUPercent > 100.1 || u.MemoryPercent < 27.4 || u.MemoryPercent > 27.5 {
		t.Errorf("rate %+v: want 100%% CPU (2 s of CPU in 2 s), 27.47%% memory", u)
	}
}
