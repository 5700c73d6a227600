package kube

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/compose"
)

// security maps the pod's and the container's securityContext (the
// container's wins field by field, as in Kubernetes) to the service's user,
// groups and privileges.
func (o *objects) security(svc *model.Service, c *Container, path string) error {
	d := o.workload
	pod := o.pod.Spec.SecurityContext
	if pod == nil {
		pod = &PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &SecurityContext{}
	}
	user, group, nonRoot := pod.RunAsUser, pod.RunAsGroup, pod.RunAsNonRoot
	if sc.RunAsUser != nil {
		user = sc.RunAsUser
	}
	if sc.RunAsGroup != nil {
		group = sc.RunAsGroup
	}
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	switch {
	case user != nil && group != nil:
		svc.User = strconv.FormatInt(*user, 10) + ":" + strconv.FormatInt(*group, 10)
	case user != nil:
		svc.User = strconv.FormatInt(*user, 10)
	case group != nil:
		return d.errf(path+".securityContext.runAsGroup", "runAsGroup needs runAsUser (berth cannot combine a group with the image's user)")
	}
	svc.Security.RunAsNonRoot = isTrue(nonRoot)
	if svc.Security.RunAsNonRoot && user != nil && *user == 0 {
		return d.errf(path+".securityContext.runAsNonRoot", "runAsNonRoot is set but runAsUser is 0")
	}
	for _, g := range pod.SupplementalGroups {
		svc.GroupAdd = append(svc.GroupAdd, strconv.FormatInt(g, 10))
	}
	if pod.FSGroup != nil {
		// The process gets the group; emptyDir and PVC volumes are given to
		// it (Mount.FSGroup), configMap/secret files get it.
		svc.GroupAdd = append(svc.GroupAdd, strconv.FormatInt(*pod.FSGroup, 10))
	}
	for i, s := range pod.Sysctls {
		if !compose.NamespacedSysctl(s.Name) {
			return d.errf(fmt.Sprintf("%sspec.securityContext.sysctls[%d].name", o.prefix, i),
				"%q is not a namespaced sysctl; it would change the host (allowed: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)", s.Name)
		}
		if svc.Security.Sysctls == nil {
			svc.Security.Sysctls = map[string]string{}
		}
		svc.Security.Sysctls[s.Name] = s.Value
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp != nil {
		switch seccomp.Type {
		case "RuntimeDefault":
		case "Unconfined":
			svc.Security.Seccomp = "unconfined"
		case "Localhost":
			if !strings.HasPrefix(seccomp.LocalhostProfile, "/") {
				return d.errf(path+".securityContext.seccompProfile.localhostProfile", "berth needs an absolute path to the profile file")
			}
			svc.Security.Seccomp = seccomp.LocalhostProfile
		default:
			return d.errf(path+".securityContext.seccompProfile.type", "unknown type %q (valid: RuntimeDefault, Unconfined, Localhost)", seccomp.Type)
		}
	}
	svc.Security.Privileged = isTrue(sc.Privileged)
	svc.ReadOnly = isTrue(sc.ReadOnlyRootFilesystem)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		svc.Security.NoNewPrivileges = true
	}
	if sc.Capabilities != nil {
		for _, f := range []struct {
			field string
			list  []string
		}{{"add", sc.Capabilities.Add}, {"drop", sc.Capabilities.Drop}} {
			for i, name := range f.list {
				if !compose.KnownCapability(name) {
					return d.errf(fmt.Sprintf("%s.securityContext.capabilities.%s[%d]", path, f.field, i), "unknown capability %q", name)
				}
			}
		}
		svc.Security.CapAdd = capNames(sc.Capabilities.Add)
		svc.Security.CapDrop = capNames(sc.Capabilities.Drop)
	}
	return nil
}

// capNames turns Kubernetes' "NET_ADMIN" into "CAP_NET_ADMIN"; "ALL" stays.
func capNames(in []string) []string {
	var out []string
	for _, c := range in {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	return out
}
