package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/compose/model"
)

// specRootfs is a fake image rootfs with users and groups.
func specRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
	writeFile(t, filepath.Join(root, "etc/group"), "root:x:0:\napp:x:1000:\nvideo:x:44:app\naudio:x:29:\n")
	return root
}

func specFor(t *testing.T, svc *model.Service, st *storage) (*specs.Spec, error) {
	t.Helper()
	if svc.Project == "" {
		svc.Project = "p"
	}
	if svc.Name == "" {
		svc.Name = "web"
	}
	if svc.Command == nil {
		svc.Command = []string{"sh"}
	}
	if st == nil {
		st = &storage{sources: make([]string, len(svc.Mounts)), files: make([]string, len(svc.Files))}
	}
	return buildSpec(specInput{svc: svc, img: &imageInfo{Config: v1.Config{}}, rootfs: specRootfs(t),
		cgroupsPath: "/unit/p-web", storage: st})
}

func mustSpec(t *testing.T, svc *model.Service, st *storage) *specs.Spec {
	t.Helper()
	s, err := specFor(t, svc, st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q lacks %q", err, p)
		}
	}
}

func TestSpecProcessIdentity(t *testing.T) {
	s := mustSpec(t, &model.Service{Name: "web"}, nil)
	if s.Hostname != "web" || s.Domainname != "" || !slices.Contains(s.Process.Env, "HOSTNAME=web") {
		t.Fatalf("default hostname %q domain %q env %v, want the service name", s.Hostname, s.Domainname, s.Process.Env)
	}
	s = mustSpec(t, &model.Service{Name: "web", Hostname: "front", Domainname: "example.org", User: "app",
		GroupAdd: []string{"audio", "4242", "video"}}, nil)
	if s.Hostname != "front" || s.Domainname != "example.org" || !slices.Contains(s.Process.Env, "HOSTNAME=front") {
		t.Fatalf("hostname %q domain %q", s.Hostname, s.Domainname)
	}
	// app's own supplementary group (video, 44) first, then group_add,
	// names resolved in the image, each once.
	if got, want := s.Process.User.AdditionalGids, []uint32{44, 29, 4242}; !slices.Equal(got, want) {
		t.Fatalf("additional gids %v, want %v", got, want)
	}
	if s.Process.User.UID != 1000 || s.Process.User.GID != 1000 {
		t.Fatalf("user %+v", s.Process.User)
	}
	_, err := specFor(t, &model.Service{GroupAdd: []string{"nosuchgroup"}}, nil)
	wantErr(t, err, "group_add", "nosuchgroup")
}

func TestSpecRunAsNonRoot(t *testing.T) {
	_, err := specFor(t, &model.Service{Security: model.Security{RunAsNonRoot: true}}, nil)
	wantErr(t, err, "run_as_non_root", "uid 0")
	_, err = specFor(t, &model.Service{User: "0:1000", Security: model.Security{RunAsNonRoot: true}}, nil)
	wantErr(t, err, "run_as_non_root")
	mustSpec(t, &model.Service{User: "app", Security: model.Security{RunAsNonRoot: true}}, nil)
}

func TestSpecCapabilities(t *testing.T) {
	all, err := supportedCaps()
	if err != nil {
		t.Fatal(err)
	}
	without := func(list []string, drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(c string) bool { return slices.Contains(drop, c) })
	}
	tests := []struct {
		name string
		sec  model.Security
		want []string
	}{
		{"default", model.Security{}, defaultCaps},
		{"drop one, add one, any spelling", model.Security{CapDrop: []string{"net_raw"}, CapAdd: []string{"SYS_ADMIN", "cap_chown"}},
			append(without(defaultCaps, "CAP_NET_RAW"), "CAP_SYS_ADMIN")},
		{"add ALL minus drops", model.Security{CapAdd: []string{"ALL"}, CapDrop: []string{"CAP_CHOWN"}}, without(all, "CAP_CHOWN")},
		{"drop ALL keeps only adds", model.Security{CapDrop: []string{"all"}, CapAdd: []string{"NET_BIND_SERVICE"}}, []string{"CAP_NET_BIND_SERVICE"}},
		{"drop ALL", model.Security{CapDrop: []string{"ALL"}}, nil},
		{"privileged", model.Security{Privileged: true, CapDrop: []string{"ALL"}}, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSpec(t, &model.Service{Security: tt.sec}, nil)
			c := s.Process.Capabilities
			for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
				if !slices.Equal(set, tt.want) {
					t.Fatalf("caps %v, want %v", set, tt.want)
				}
			}
			if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
				t.Fatalf("inheritable %v ambient %v, want empty as in docker", c.Inheritable, c.Ambient)
			}
		})
	}
	_, err = specFor(t, &model.Service{Security: model.Security{CapAdd: []string{"CAP_FLY"}}}, nil)
	wantErr(t, err, "cap_add", "CAP_FLY")
	// A capability berth itself lacks (some sandboxes drop
	// CAP_SYS_RESOURCE) cannot be granted: a clear error, not a failed start.
	for _, c := range capability.ListKnown() {
		name := "CAP_" + strings.ToUpper(c.String())
		if slices.Contains(all, name) {
			continue
		}
		_, err = specFor(t, &model.Service{Security: model.Security{CapAdd: []string{name}}}, nil)
		wantErr(t, err, "cap_add", name, "bounding set")
		break
	}
}

func TestSpecPrivilegedLiftsConfinement(t *testing.T) {
	def := mustSpec(t, &model.Service{}, nil)
	if def.Linux.Seccomp == nil || len(def.Linux.MaskedPaths) == 0 || len(def.Linux.ReadonlyPaths) == 0 {
		t.Fatal("default spec lacks seccomp or masked/readonly paths")
	}
	s := mustSpec(t, &model.Service{Security: model.Security{Privileged: true}}, nil)
	if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Fatalf("privileged keeps seccomp %v masked %v readonly %v", s.Linux.Seccomp != nil, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, m := range s.Mounts {
		if (m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup") && slices.Contains(m.Options, "ro") {
			t.Fatalf("privileged %s is read-only: %v", m.Destination, m.Options)
		}
	}
	rules := s.Linux.Resources.Devices
	if len(rules) != 1 || !rules[0].Allow || rules[0].Access != "rwm" || rules[0].Type != "" {
		t.Fatalf("privileged device rules %+v, want a single allow-all", rules)
	}
	if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == "/dev/null" }) {
		t.Fatal("privileged lacks the host's devices")
	}
}

func TestSpecNoNewPrivilegesAndSeccomp(t *testing.T) {
	if s := mustSpec(t, &model.Service{}, nil); s.Process.NoNewPrivileges {
		t.Fatal("no_new_privileges set by default")
	}
	if s := mustSpec(t, &model.Service{Security: model.Security{NoNewPrivileges: true}}, nil); !s.Process.NoNewPrivileges {
		t.Fatal("no_new_privileges not set")
	}
	if s := mustSpec(t, &model.Service{Security: model.Security{Seccomp: "unconfined"}}, nil); s.Linux.Seccomp != nil {
		t.Fatal("seccomp=unconfined kept a profile")
	}
	profile := filepath.Join(t.TempDir(), "profile.json")
	writeFile(t, profile, `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}`)
	s := mustSpec(t, &model.Service{Security: model.Security{Seccomp: profile}}, nil)
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) != 1 ||
		!slices.Equal(s.Linux.Seccomp.Syscalls[0].Names, []string{"read", "write", "exit_group"}) {
		t.Fatalf("profile from file: %+v", s.Linux.Seccomp)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	writeFile(t, bad, `{"defaultAction":`)
	_, err := specFor(t, &model.Service{Security: model.Security{Seccomp: bad}}, nil)
	wantErr(t, err, "seccomp", bad)
	_, err = specFor(t, &model.Service{Security: model.Security{Seccomp: "/no/such/profile.json"}}, nil)
	wantErr(t, err, "seccomp", "/no/such/profile.json")
}

func TestSpecUlimits(t *testing.T) {
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &own); err != nil {
		t.Fatal(err)
	}
	s := mustSpec(t, &model.Service{}, nil)
	n := min(uint64(defaultNofile), own.Max)
	if want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: n, Hard: n}}; !slices.Equal(s.Process.Rlimits, want) {
		t.Fatalf("default rlimits %v, want %v", s.Process.Rlimits, want)
	}
	s = mustSpec(t, &model.Service{Security: model.Security{Ulimits: map[string]model.Ulimit{
		"nproc": {Soft: 50, Hard: 100}, "nofile": {Soft: 200, Hard: 300}, "core": {Soft: -1, Hard: -1}}}}, nil)
	want := []specs.POSIXRlimit{
		{Type: "RLIMIT_CORE", Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY},
		{Type: "RLIMIT_NOFILE", Soft: 200, Hard: 300},
		{Type: "RLIMIT_NPROC", Soft: 50, Hard: 100},
	}
	var ownCore unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CORE, &ownCore); err != nil {
		t.Fatal(err)
	}
	if ownCore.Max != unix.RLIM_INFINITY {
		t.Fatalf("this test needs an unlimited hard core limit, have %d", ownCore.Max)
	}
	if !slices.Equal(s.Process.Rlimits, want) {
		t.Fatalf("rlimits %v, want %v", s.Process.Rlimits, want)
	}
	if rl, err := processRlimits(s.Process.Rlimits); err != nil || len(rl) != 3 || rl[2].Type != unix.RLIMIT_NPROC || rl[2].Soft != 50 {
		t.Fatalf("processRlimits = %+v, %v", rl, err)
	}
	// Above berth's own hard limit: an error naming both numbers.
	_, err := rlimits(map[string]model.Ulimit{"nofile": {Soft: 10, Hard: 5000}},
		func(int) (unix.Rlimit, error) { return unix.Rlimit{Cur: 1024, Max: 4096}, nil })
	wantErr(t, err, "nofile", "5000", "4096", "berth's own hard limit")
	_, err = specFor(t, &model.Service{Security: model.Security{Ulimits: map[string]model.Ulimit{"wings": {Soft: 1, Hard: 1}}}}, nil)
	wantErr(t, err, "ulimits", "wings", "nofile")
	_, err = specFor(t, &model.Service{Security: model.Security{Ulimits: map[string]model.Ulimit{"nproc": {Soft: 10, Hard: 5}}}}, nil)
	wantErr(t, err, "nproc", "soft limit 10", "hard limit 5")
}

func TestSpecSysctls(t *testing.T) {
	s := mustSpec(t, &model.Service{Security: model.Security{Sysctls: map[string]string{"net.ipv4.ip_forward": "1", "kernel.msgmax": "65536"}}}, nil)
	if s.Linux.Sysctl["net.ipv4.ip_forward"] != "1" || s.Linux.Sysctl["kernel.msgmax"] != "65536" {
		t.Fatalf("sysctls %v", s.Linux.Sysctl)
	}
	_, err := specFor(t, &model.Service{NetworkMode: "host", Security: model.Security{Sysctls: map[string]string{"net.ipv4.ip_forward": "1"}}}, nil)
	wantErr(t, err, "net.ipv4.ip_forward", "network_mode host")
	mustSpec(t, &model.Service{NetworkMode: "host", Security: model.Security{Sysctls: map[string]string{"kernel.msgmax": "1"}}}, nil)
}

func TestSpecMounts(t *testing.T) {
	svc := &model.Service{
		Mounts: []model.Mount{
			{Type: model.MountVolume, Source: "p_data", Target: "/var/lib/data/"},
			{Type: model.MountBind, Source: "/srv/conf", Target: "/etc/app", ReadOnly: true},
			{Type: model.MountTmpfs, Target: "/run/cache", Size: 8 << 20, Mode: 0o700},
			{Type: model.MountTmpfs, Target: "/tmp"},
			{Type: model.MountVolume, Target: "/var"},
		},
		Files:    []model.FileMount{{Secret: true, Name: "db", Target: "/run/secrets/db"}},
		ReadOnly: true,
	}
	st := &storage{sources: []string{"/state/volumes/p_data/_data", "/srv/conf", "", "", "/state/c/anon/4"}, files: []string{"/run/c/files/0"}}
	s := mustSpec(t, svc, st)
	if !s.Root.Readonly {
		t.Fatal("read_only root not set")
	}
	byDest := map[string]specs.Mount{}
	var order []string
	for _, m := range s.Mounts {
		byDest[m.Destination] = m
		order = append(order, m.Destination)
	}
	check := func(dest, typ, src string, opts ...string) {
		t.Helper()
		m, ok := byDest[dest]
		if !ok {
			t.Fatalf("no mount at %s; mounts %v", dest, order)
		}
		if m.Type != typ || m.Source != src {
			t.Fatalf("%s: %s from %s, want %s from %s", dest, m.Type, m.Source, typ, src)
		}
		for _, o := range opts {
			if !slices.Contains(m.Options, o) {
				t.Fatalf("%s: options %v lack %s", dest, m.Options, o)
			}
		}
	}
	check("/var/lib/data", "bind", "/state/volumes/p_data/_data", "rbind")
	if slices.Contains(byDest["/var/lib/data"].Options, "ro") {
		t.Fatal("read-write volume mounted ro")
	}
	check("/etc/app", "bind", "/srv/conf", "rbind", "ro")
	check("/run/cache", "tmpfs", "tmpfs", "size=8388608", "mode=700", "nosuid", "nodev", "noexec")
	check("/run/secrets/db", "bind", "/run/c/files/0", "ro", "nosuid", "nodev", "noexec")
	check("/dev/shm", "tmpfs", "shm", "size=67108864")
	// The service's /tmp tmpfs replaces none of the defaults, but had one
	// been there it would have replaced it: one mount per destination.
	check("/tmp", "tmpfs", "tmpfs", "mode=1777")
	if slices.Index(order, "/var") > slices.Index(order, "/var/lib/data") {
		t.Fatalf("/var is mounted after /var/lib/data: %v", order)
	}

	s = mustSpec(t, &model.Service{ShmSize: 256 << 20}, nil)
	n := 0
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" {
			n++
			if !slices.Contains(m.Options, "size=268435456") || slices.Contains(m.Options, "size=65536k") {
				t.Fatalf("/dev/shm options %v, want size=268435456 only", m.Options)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d /dev/shm mounts", n)
	}
	// A service mount at a default destination replaces the default.
	s = mustSpec(t, &model.Service{Mounts: []model.Mount{{Type: model.MountTmpfs, Target: "/dev/shm", Size: 1 << 20}}},
		&storage{sources: []string{""}})
	for _, m := range s.Mounts {
		if m.Destination == "/dev/shm" && !slices.Contains(m.Options, "size=1048576") {
			t.Fatalf("default /dev/shm kept beside the service's: %v", m.Options)
		}
	}

	_, err := specFor(t, &model.Service{Mounts: []model.Mount{{Type: model.MountTmpfs, Target: "/a"}, {Type: model.MountTmpfs, Target: "/a/"}}}, nil)
	wantErr(t, err, "two mounts at /a")
	_, err = specFor(t, &model.Service{Mounts: []model.Mount{{Type: "nfs", Target: "/a"}}}, nil)
	wantErr(t, err, "unknown mount type", "nfs")
	_, err = specFor(t, &model.Service{Mounts: []model.Mount{{Type: model.MountTmpfs, Target: "rel"}}}, nil)
	wantErr(t, err, "not an absolute path")
}

func TestSpecDevices(t *testing.T) {
	s := mustSpec(t, &model.Service{Devices: []model.Device{{Source: "/dev/null", Target: "/dev/mynull", Permissions: "rw"}}}, nil)
	i := slices.IndexFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == "/dev/mynull" })
	if i < 0 {
		t.Fatalf("no /dev/mynull in %+v", s.Linux.Devices)
	}
	d := s.Linux.Devices[i]
	if d.Type != "c" || d.Major != 1 || d.Minor != 3 {
		t.Fatalf("device %+v, want c 1:3", d)
	}
	rules := s.Linux.Resources.Devices
	last := rules[len(rules)-1]
	if !last.Allow || last.Type != "c" || *last.Major != 1 || *last.Minor != 3 || last.Access != "rw" {
		t.Fatalf("last device rule %+v, want allow c 1:3 rw", last)
	}
	if rules[0].Allow || rules[0].Access != "rwm" {
		t.Fatalf("first device rule %+v, want runc's deny-all", rules[0])
	}
	s = mustSpec(t, &model.Service{Devices: []model.Device{{Source: "/dev/zero"}}}, nil)
	if last := s.Linux.Resources.Devices[len(s.Linux.Resources.Devices)-1]; last.Access != "rwm" {
		t.Fatalf("default device permissions %q, want rwm", last.Access)
	}
	_, err := specFor(t, &model.Service{Devices: []model.Device{{Source: "/etc/passwd"}}}, nil)
	wantErr(t, err, "/etc/passwd", "not a device")
	_, err = specFor(t, &model.Service{Devices: []model.Device{{Source: "/dev/null", Permissions: "rwx"}}}, nil)
	wantErr(t, err, "permissions", "rwx")
}

// TestSpecLeavesResourcesToTheUnit: the container's cgroup nests in the
// unit's and must not carry limits of its own, which could only loosen or
// hide the unit's MemoryMax, CPUQuota, TasksMax.
func TestSpecLeavesResourcesToTheUnit(t *testing.T) {
	s := mustSpec(t, &model.Service{Resources: model.Resources{MemoryMax: 16 << 20, CPUs: 0.5, PidsMax: 10},
		Devices: []model.Device{{Source: "/dev/null"}}}, nil)
	r := s.Linux.Resources
	if r.Memory != nil || r.CPU != nil || r.Pids != nil || r.BlockIO != nil || len(r.HugepageLimits) != 0 || r.Unified != nil {
		t.Fatalf("container cgroup carries limits: %+v", r)
	}
	if s.Linux.CgroupsPath != "/unit/p-web" {
		t.Fatalf("cgroups path %q", s.Linux.CgroupsPath)
	}
}

func TestSubPathRefusesEscape(t *testing.T) {
	src := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"..", "../x", "a/../../x", "/abs"} {
		if _, err := subPath(src, bad); err == nil {
			t.Errorf("sub_path %q accepted", bad)
		}
	}
	p, err := subPath(src, "a/../b")
	if err != nil || p != filepath.Join(src, "b") {
		t.Fatalf("subPath(a/../b) = %q, %v", p, err)
	}
	// A symlink in the volume resolves inside it, never to the host's /etc.
	if p, err := subPath(src, "link/passwd"); err != nil || !strings.HasPrefix(p, src+"/") {
		t.Fatalf("subPath through a symlink = %q, %v", p, err)
	}
}
