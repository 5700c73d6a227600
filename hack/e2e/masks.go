package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// unitDirs are the unit search paths whose contents the sandbox must not run
// by accident. /etc/systemd/system is also hidden behind a tmpfs inside the
// sandbox (it outranks /run/systemd/system, so a mask alone would not beat a
// unit file placed there), but its names are masked as well.
var unitDirs = []string{
	"/etc/systemd/system",
	"/usr/local/lib/systemd/system",
	"/lib/systemd/system",
	"/usr/lib/systemd/system",
}

// keptUnits are the only installed units the sandbox may start: journald and
// the system bus, plus the units systemd needs to stop itself. Every other
// installed unit (gettys, udev, tmpfiles, sysctl, logind, timers such as
// apt-daily, daemons such as postgresql, docker-registry, podman …) is masked,
// because they share the host's filesystem and would change it.
var keptUnits = []string{
	"systemd-journald.service",
	"systemd-journald.socket",
	"systemd-journald-dev-log.socket",
	"dbus.service",
	"dbus.socket",
	"systemd-exit.service",
	"systemd-halt.service",
	"systemd-poweroff.service",
	"systemd-reboot.service",
}

// alwaysMasked are units that must be masked even when they are not installed
// in the usual places (they may appear through generators or aliases).
var alwaysMasked = []string{
	"systemd-tmpfiles-setup.service",
	"systemd-tmpfiles-setup-dev.service",
	"systemd-tmpfiles-setup-dev-early.service",
	"systemd-tmpfiles-clean.service",
	"systemd-tmpfiles-clean.timer",
	"systemd-sysctl.service",
	"systemd-update-utmp.service",
	"systemd-update-utmp-runlevel.service",
	"systemd-journal-flush.service",
	"systemd-logind.service",
	"getty@.service",
	"serial-getty@.service",
	"console-getty.service",
	"container-getty@.service",
	"systemd-binfmt.service",
	"proc-sys-fs-binfmt_misc.automount",
	"proc-sys-fs-binfmt_misc.mount",
	"systemd-modules-load.service",
	"systemd-remount-fs.service",
	"systemd-udevd.service",
	"systemd-udev-trigger.service",
	"systemd-udev-settle.service",
	"systemd-random-seed.service",
	"systemd-sysusers.service",
	"systemd-hwdb-update.service",
	"systemd-machine-id-commit.service",
	"ldconfig.service",
	"systemd-firstboot.service",
	"systemd-journal-catalog-update.service",
	"systemd-update-done.service",
	"systemd-timesyncd.service",
	"systemd-networkd.service",
	"systemd-resolved.service",
	"systemd-pstore.service",
	"docker-registry.service",
	"docker.service",
	"docker.socket",
	"containerd.service",
	"podman.service",
	"podman.socket",
	"podman-auto-update.service",
	"podman-auto-update.timer",
	"podman-restart.service",
	"postgresql.service",
	"postgresql@.service",
	"ssh.service",
	"ssh.socket",
	"cron.service",
	"networking.service",
	"apt-daily.timer",
	"apt-daily-upgrade.timer",
}

// unitsToMask lists every unit name that must be a symlink to /dev/null in
// the sandbox's /run/systemd/system: all installed units except keptUnits
// and the caller's allowed ones, plus alwaysMasked. Targets and slices stay:
// they only order and group, and what they pull in is masked.
func unitsToMask(allowed []string) ([]string, error) {
	keep := append(slices.Clone(keptUnits), allowed...)
	set := map[string]bool{}
	for _, u := range alwaysMasked {
		set[u] = true
	}
	for _, dir := range unitDirs {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			if d.IsDir() {
				return nil
			}
			set[d.Name()] = true
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing units in %s: %w", dir, err)
		}
	}
	var out []string
	for u := range set {
		if !isUnitName(u) || slices.Contains(keep, u) {
			continue
		}
		if strings.HasSuffix(u, ".target") || strings.HasSuffix(u, ".slice") {
			continue
		}
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

func isUnitName(name string) bool {
	for _, suf := range []string{".service", ".socket", ".timer", ".path", ".mount", ".automount", ".swap", ".device", ".scope", ".target", ".slice"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}
