package debpkg

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/runtime/network"
)

// providers maps each program berth's code executes to the Debian package
// that installs it (dpkg -S $(command -v PROGRAM)). A program the scan
// finds that is missing here fails the test: add it.
func providers() map[string]string {
	return map[string]string{
		// berth and its units
		"journalctl": "systemd", "systemctl": "systemd", "systemd": "systemd",
		"systemd-run": "systemd", "systemd-analyze": "systemd", "busctl": "systemd", "systemd-creds": "systemd",
		"nft": "nftables", "iptables": "iptables", "ip6tables": "iptables", "iptables-save": "iptables",
		"buildah": "buildah",
		// tests and benchmarks
		"docker-registry": "docker-registry", "busybox": "busybox-static",
		"ip": "iproute2", "nsenter": "util-linux", "unshare": "util-linux", "setpriv": "util-linux",
		"git": "git", "runc": "runc", "podman": "podman", "podman-compose": "podman-compose",
		"catatonit": "catatonit", "skopeo": "skopeo",
		"mount": "mount", "umount": "mount",
		"sh": "dash", "cat": "coreutils", "cp": "coreutils", "env": "coreutils", "readlink": "coreutils", "test": "coreutils",
		// the VM suite (VM_PACKAGES)
		"make": "make", "tar": "tar", "mmdebstrap": "mmdebstrap", "qemu-system-x86_64": "qemu-system-x86",
		"qemu-img": "qemu-utils", "mkfs.ext4": "e2fsprogs", "debugfs": "e2fsprogs",
	}
}

// dependencies are packages a listed package depends on (Depends:, which
// --no-install-recommends installs too), so they need no line of their
// own.
func dependencies() map[string][]string {
	return map[string][]string{
		"build-essential": {"make", "gcc", "g++", "dpkg-dev", "libc6-dev"},
	}
}

// notDebian are programs that come from elsewhere, and from where.
func notDebian() map[string]string {
	return map[string]string{
		"go":    "the Go toolchain that builds berth (go.mod wants a newer Go than Debian 12's golang)",
		"berth": "this repository's binary (make install)",
	}
}

// required are packages of priority required: every Debian system has
// them, mmdebstrap --variant=minbase included.
func required() []string {
	return []string{"coreutils", "dash", "bash", "util-linux", "mount", "tar", "grep", "sed", "findutils", "gzip"}
}

// need is a program that must be installed, and who needs it.
type need struct {
	Program string
	Who     string
}

// indirectNeeds are programs executed where no scan sees a name: by
// libraries and plugins at run time (the CNI plugins exec nft and
// iptables; the launcher checks for them, see network.Tools) and by
// berth's units themselves (systemd runs them, journalctl reads why they
// failed).
func indirectNeeds() []need {
	var out []need
	for _, t := range network.Tools() {
		out = append(out, need{t.Name, "the CNI plugins berth-launcher runs (runtime/network.Tools)"})
	}
	return append(out,
		need{"systemd", "the units berth starts"},
		need{"journalctl", "systemd/journal (why a unit failed)"})
}

// makeLists reads the Makefile's package lists: every NAME_PACKAGES
// variable (DEB_PACKAGES for berth and its tests, VM_PACKAGES for the VM
// suite), continuation lines joined.
func makeLists(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assign := regexp.MustCompile(`^([A-Z_]+_PACKAGES)\s*[:?]?=\s*(.*)$`)
	lists := map[string][]string{}
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if cur == "" {
			m := assign.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			cur, line = m[1], m[2]
		}
		cont := strings.HasSuffix(line, "\\")
		lists[cur] = append(lists[cur], strings.Fields(strings.TrimSuffix(line, "\\"))...)
		if !cont {
			cur = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lists["DEB_PACKAGES"]) == 0 {
		t.Fatal("no DEB_PACKAGES in the Makefile")
	}
	return lists
}

// missing checks needs against the packages in lists (and the required
// ones) and returns one message per unmet need.
func missing(needs []need, lists []string) []string {
	have := append(slices.Clone(lists), required()...)
	for _, p := range lists {
		have = append(have, dependencies()[p]...)
	}
	var out []string
	for _, n := range needs {
		if _, ok := notDebian()[n.Program]; ok {
			continue
		}
		pkg, ok := providers()[n.Program]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s executes %q, which hack/debpkg's table does not know: add the Debian package that installs it (dpkg -S $(command -v %s)) to providers() and to the Makefile", n.Who, n.Program, n.Program))
		case !slices.Contains(have, pkg):
			out = append(out, fmt.Sprintf("%s executes %s, from Debian package %s, which the Makefile does not list: add %s to DEB_PACKAGES", n.Who, n.Program, pkg, pkg))
		}
	}
	return out
}

// programName is what a program name looks like (or an absolute path).
var programName = regexp.MustCompile(`^/?[A-Za-z0-9][A-Za-z0-9._+/-]*$`)

// TestExecutedProgramsArePackaged: every program executed by name in the
// repository's Go code (os/exec, the e2e sandbox's Command/Exec, the
// benchmarks' run helpers) comes from a package the Makefile lists.
func TestExecutedProgramsArePackaged(t *testing.T) {
	sites, err := scanExecs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) < 10 {
		t.Fatalf("the scan found only %d exec sites: is it still looking at the code?", len(sites))
	}
	var all []string
	for _, l := range makeLists(t) {
		all = append(all, l...)
	}
	var needs []need
	seen := map[string]bool{}
	for _, s := range sites {
		if programName.MatchString(s.Binary) && !seen[s.Binary] {
			seen[s.Binary] = true
			needs = append(needs, need{s.Binary, s.Pos})
		}
	}
	for _, m := range missing(needs, all) {
		t.Error(m)
	}
}

// TestIndirectNeedsInDebPackages: the programs berth needs at run time that
// no exec call names — nft and iptables, which the CNI plugins execute,
// systemd and journalctl — come from DEB_PACKAGES itself, which is what a
// host installs (not the VM suite's VM_PACKAGES).
func TestIndirectNeedsInDebPackages(t *testing.T) {
	for _, m := range missing(indirectNeeds(), makeLists(t)["DEB_PACKAGES"]) {
		t.Error(m)
	}
}

// TestMissingNftablesFails: the check itself notices a list without
// nftables, the package whose absence once broke every start.
func TestMissingNftablesFails(t *testing.T) {
	deb := slices.DeleteFunc(slices.Clone(makeLists(t)["DEB_PACKAGES"]), func(p string) bool { return p == "nftables" })
	got := strings.Join(missing(indirectNeeds(), deb), "\n")
	if !strings.Contains(got, "executes nft, from Debian package nftables, which the Makefile does not list") {
		t.Errorf("DEB_PACKAGES without nftables passes: %q", got)
	}
}
