package runtime

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/compose/model"
)

// allCapsKeyword is docker's cap_add / cap_drop value for every capability.
const allCapsKeyword = "ALL"

// capabilities is the capability set of a service with docker's rules
// (moby's oci/caps.TweakCapabilities): privileged gets every capability the
// kernel supports; cap_add ALL gives every capability except those dropped;
// cap_drop ALL starts from nothing and adds cap_add; otherwise the default
// set minus cap_drop plus cap_add. Names are accepted with or without the
// CAP_ prefix, in any case; an unknown name is an error.
func capabilities(sec model.Security) ([]string, error) {
	all, err := supportedCaps()
	if err != nil {
		return nil, err
	}
	if sec.Privileged {
		return all, nil
	}
	add, err := normalizeCaps(sec.CapAdd, "cap_add")
	if err != nil {
		return nil, err
	}
	drop, err := normalizeCaps(sec.CapDrop, "cap_drop")
	if err != nil {
		return nil, err
	}
	for _, c := range add {
		if c != allCapsKeyword && !slices.Contains(all, c) {
			return nil, fmt.Errorf("cap_add: %s is not in berth's own capability bounding set (or the kernel's), so the container cannot get it", c)
		}
	}
	var caps []string
	switch {
	case slices.Contains(add, allCapsKeyword):
		for _, c := range all {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, allCapsKeyword):
		caps = slices.Clone(add)
	default:
		for _, c := range defaultCaps {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range add {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	return caps, nil
}

// normalizeCaps upper-cases names and adds the CAP_ prefix; "ALL" stays.
func normalizeCaps(names []string, field string) ([]string, error) {
	known := map[string]bool{}
	for _, c := range capability.ListKnown() {
		known["CAP_"+strings.ToUpper(c.String())] = true
	}
	var out []string
	for _, n := range names {
		n = strings.ToUpper(strings.TrimSpace(n))
		if n != allCapsKeyword && !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		if n != allCapsKeyword && !known[n] {
			return nil, fmt.Errorf("%s: unknown capability %q", field, n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// supportedCaps is every capability the running kernel knows and berth's
// own bounding set holds: what docker's privileged containers get, within
// what berth can give (a launcher whose unit or sandbox dropped a
// capability cannot grant it, and the container would fail to start).
func supportedCaps() ([]string, error) {
	list, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("listing the kernel's capabilities: %w", err)
	}
	own, err := capability.NewPid2(0)
	if err == nil {
		err = own.Load()
	}
	if err != nil {
		return nil, fmt.Errorf("reading berth's own capabilities: %w", err)
	}
	out := make([]string, 0, len(list))
	for _, c := range list {
		if own.Get(capability.BOUNDING, c) {
			out = append(out, "CAP_"+strings.ToUpper(c.String()))
		}
	}
	return out, nil
}

// applySecurity sets the spec's capabilities, no_new_privileges, sysctls,
// and for privileged services lifts the masked and read-only paths and makes
// /sys writable, as docker does. The seccomp profile is set last by
// applySeccomp, because it depends on the capabilities.
func applySecurity(spec *specs.Spec, svc *model.Service) error {
	sec := svc.Security
	caps, err := capabilities(sec)
	if err != nil {
		return err
	}
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:  caps,
		Effective: caps,
		Permitted: caps,
	}
	spec.Process.NoNewPrivileges = sec.NoNewPrivileges
	if sec.Privileged {
		spec.Linux.MaskedPaths = nil
		spec.Linux.ReadonlyPaths = nil
		for i := range spec.Mounts {
			if m := &spec.Mounts[i]; m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
			}
		}
	}
	sysctl, err := sysctls(sec.Sysctls, svc.NetworkMode)
	if err != nil {
		return err
	}
	spec.Linux.Sysctl = sysctl
	return nil
}

// sysctls checks the service's sysctls. The loader admits only namespaced
// ones; net.* ones would change the host's network stack when the container
// shares it, so they are refused with network_mode host, as docker does.
func sysctls(in map[string]string, networkMode string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		if networkMode == "host" && strings.HasPrefix(k, "net.") {
			return nil, fmt.Errorf("sysctls: %s cannot be set with network_mode host: it would change the host's network settings", k)
		}
		out[k] = v
	}
	return out, nil
}

// seccompUnconfined is security_opt seccomp=unconfined.
const seccompUnconfined = "unconfined"

// applySeccomp sets docker's default profile, none for unconfined or
// privileged services (as docker), or the docker-format JSON profile at the
// path in Security.Seccomp.
func applySeccomp(spec *specs.Spec, sec model.Security) error {
	switch {
	case sec.Seccomp == seccompUnconfined || sec.Privileged:
		spec.Linux.Seccomp = nil
		return nil
	case sec.Seccomp == "":
		sc, err := seccomp.GetDefaultProfile(spec)
		if err != nil {
			return fmt.Errorf("building the default seccomp profile: %w", err)
		}
		spec.Linux.Seccomp = sc
		return nil
	}
	body, err := os.ReadFile(sec.Seccomp)
	if err != nil {
		return fmt.Errorf("security_opt seccomp: reading profile: %w", err)
	}
	sc, err := seccomp.LoadProfile(string(body), spec)
	if err != nil {
		return fmt.Errorf("security_opt seccomp: profile %s: %w", sec.Seccomp, err)
	}
	spec.Linux.Seccomp = sc
	return nil
}
