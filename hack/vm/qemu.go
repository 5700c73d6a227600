package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine is one QEMU run: the root disk, the results disk and the kernel
// taken from the rootfs.
type Machine struct {
	Kernel, Initrd string
	Root, Results  string
	Console        string // the serial console, written by QEMU
	CPUs, MemoryMB int
}

// Boot runs the machine until the guest powers off (QEMU exits; guest
// reboots stay inside the same QEMU run) or timeout passes, when QEMU is
// killed. Either way the console log is left at m.Console.
func (m Machine) Boot(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	args := []string{
		"-nodefaults", "-no-user-config",
		// No KVM on these machines: TCG, one host thread per vCPU.
		"-accel", "tcg,thread=multi", "-cpu", "max",
		"-smp", strconv.Itoa(m.CPUs), "-m", strconv.Itoa(m.MemoryMB),
		"-drive", "file=" + m.Root + ",if=virtio,format=raw,cache=unsafe",
		"-drive", "file=" + m.Results + ",if=virtio,format=raw",
		"-nic", "none", "-display", "none", "-monitor", "none",
		"-serial", "file:" + m.Console,
	}
	if m.Kernel != "" { // else the firmware boots the root disk
		args = append(args, "-kernel", m.Kernel, "-initrd", m.Initrd,
			// panic=-1 turns a kernel panic into a reboot loop the timeout ends.
			"-append", "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=1")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		return took, fmt.Errorf("the VM did not power off within %s and was killed; console tail:\n%s", timeout, tail(m.Console, 60))
	}
	if err != nil {
		return took, fmt.Errorf("qemu-system-x86_64: %w\n%s\nconsole tail:\n%s", err, stderr.String(), tail(m.Console, 60))
	}
	return took, nil
}

// tail returns the last n lines of a file, for failure messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
