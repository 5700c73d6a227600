package runtime

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
)

// oomKills counts the processes the kernel's OOM killer killed in the
// container's cgroup (<unit>/<id>): cgroup v2's memory.events oom_kill, or
// v1's memory.oom_control. The container's cgroup is a child of the
// unit's, where systemd 252 does not see these kills (measured in the VM
// suite: Result=success after a kill), so cleanup reports them.
func oomKills(unit, id string) uint64 {
	file, key := filepath.Join(cgroupV2Root, unit, id, "memory.events"), "oom_kill"
	if !cgroups.IsCgroup2UnifiedMode() {
		file = filepath.Join(cgroupV2Root, "memory", unit, id, "memory.oom_control")
	}
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	return keyedValue(f, key)
}

// keyedValue reads "key value" lines and returns key's value (0 if none).
func keyedValue(f *os.File, key string) uint64 {
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// oomError reports an OOM kill at cleanup, before the container's cgroup
// is removed. When systemd says the main process died of SIGKILL
// (ExecStopPost='s $EXIT_CODE and $EXIT_STATUS) and the OOM killer killed
// in the container, that kill is why the unit stopped: it is returned as
// an error, so the journal's err line and `berth status` say so. Kills of
// other processes are logged.
func oomError(opts Options, unit, id string) error {
	n := oomKills(unit, id)
	if n == 0 {
		return nil
	}
	if os.Getenv("EXIT_CODE") == "killed" && os.Getenv("EXIT_STATUS") == "KILL" {
		return fmt.Errorf("the container's main process was killed by the kernel's OOM killer: it reached its memory limit (%d OOM kills)", n)
	}
	opts.Log.Warn("the kernel's OOM killer killed processes of the container", "container", id, "oom_kills", n)
	return nil
}
