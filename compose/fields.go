package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// supportedServiceKeys lists the service fields the model carries. Fields
// marked false are read by the converter, which warns about the parts it
// cannot honour (stdin_open, a logging driver).
// Every other field is warned about with its file and line, never silently
// dropped.
var supportedServiceKeys = map[string]bool{
	// process
	"image": true, "pull_policy": true, "platform": true, "command": true, "entrypoint": true, "environment": true,
	"env_file": true, "working_dir": true, "user": true, "group_add": true,
	"hostname": true, "domainname": true, "init": true, "tty": true,
	"stop_signal": true, "stop_grace_period": true, "labels": true,
	"container_name": true, "restart": true,
	// storage
	"volumes": true, "tmpfs": true, "read_only": true, "shm_size": true,
	"devices": true, "secrets": true, "configs": true,
	// resources
	"deploy": true, "mem_limit": true, "memswap_limit": true,
	"mem_reservation": true, "cpus": true, "cpu_shares": true, "pids_limit": true,
	// security
	"ulimits": true, "sysctls": true, "cap_add": true, "cap_drop": true,
	"privileged": true, "security_opt": true,
	// network
	"ports": true, "networks": true, "extra_hosts": true, "dns": true,
	"dns_search": true, "network_mode": true, "mac_address": true,
	// expose only documents ports between services; peers reach every port.
	"expose": true,
	// health and dependencies
	"healthcheck": true, "depends_on": true,
	// loading: compose-go applies them
	"profiles": true, "extends": true,
	// links: an alias becomes a network alias of the target (links.go)
	"links": true,
	// CLI-only: they steer `docker compose up`/`watch` (whether to attach
	// to the output, file sync), not the container; compose accepts them
	// without effect on what runs, and so does berth.
	"attach": true, "develop": true,
	// converted with their own warnings
	"build": true, "stdin_open": false, "logging": false,
}

// supportedDeployKeys are the parts of deploy: that map to the unit.
// replicas is read: 1 is fine, more gets a warning.
// mode is read: global and replicated both mean one container on one host.
var supportedDeployKeys = map[string]bool{"resources": true, "restart_policy": true, "replicas": true, "mode": false}

// supportedLimitKeys are the keys of deploy.resources.limits; of the
// reservations only memory maps (to MemoryLow).
var (
	supportedLimitKeys       = map[string]bool{"cpus": true, "memory": true, "pids": true}
	supportedReservationKeys = map[string]bool{"memory": true}
)

// supportedRestartPolicyKeys are the keys of deploy.restart_policy.
var supportedRestartPolicyKeys = map[string]bool{"condition": true, "max_attempts": true}

var supportedTopKeys = map[string]bool{
	"services": true, "name": true, "include": true, "networks": true,
	"volumes": true, "secrets": true, "configs": true,
}

var supportedNetworkKeys = map[string]bool{
	"name": true, "driver": true, "internal": true, "external": true, "ipam": true,
	"enable_ipv6": true, "driver_opts": true,
}

// supportedBridgeOpts are the bridge driver_opts network.go carries out.
var supportedBridgeOpts = map[string]bool{optBridgeName: true, optMTU: true, "mtu": true, optMasquerade: true}

// driver_opts is read: local bind and tmpfs options are carried out
// (volumeopts.go), others are warned about.
var supportedVolumeKeys = map[string]bool{"name": true, "driver": true, "external": true, "driver_opts": true}

var supportedFileObjectKeys = map[string]bool{"name": true, "file": true, "environment": true, "content": true}

// checkYAML reports a syntax error with the file and line, before compose-go
// sees the file, so the message is about the user's text.
func checkYAML(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		// yaml.v3 errors read "yaml: line N: ..."
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// unsupportedFields walks one compose file and names each field berth does
// not support, as "file:line: service "x": field "y" is not supported".
func unsupportedFields(path string, root *yaml.Node) []string {
	var warns []string
	warn := func(n *yaml.Node, format string, args ...any) {
		warns = append(warns, fmt.Sprintf("%s:%d: ", path, n.Line)+fmt.Sprintf(format, args...))
	}
	// group warns about keys of m outside allowed, naming them prefix.key.
	group := func(m *yaml.Node, allowed map[string]bool, what, prefix string) {
		eachKey(m, func(k, _ *yaml.Node) {
			if _, ok := allowed[k.Value]; !ok && !strings.HasPrefix(k.Value, "x-") {
				warn(k, "%sfield %q is not supported yet and is ignored", what, prefix+k.Value)
			}
		})
	}
	eachKey(root, func(k, v *yaml.Node) {
		switch {
		case strings.HasPrefix(k.Value, "x-"):
		case k.Value == "version":
			warn(k, "top-level field %q is obsolete and ignored", k.Value)
		case !supportedTopKeys[k.Value]:
			warn(k, "top-level field %q is not supported yet and is ignored", k.Value)
		case k.Value == "networks":
			eachKey(v, func(name, nv *yaml.Node) {
				what := fmt.Sprintf("network %q: ", name.Value)
				group(nv, supportedNetworkKeys, what, "")
				eachKey(nv, func(f, fv *yaml.Node) {
					switch f.Value {
					case "external":
						warnExternalName(warn, what, fv)
					case "driver_opts":
						eachKey(fv, func(ok, _ *yaml.Node) {
							if !supportedBridgeOpts[ok.Value] {
								warn(ok, "%sdriver_opts %q is not supported and is ignored", what, ok.Value)
							}
						})
					case "driver":
						if fv.Value != "bridge" {
							warn(fv, "%sdriver %q is not supported; berth uses a bridge", what, fv.Value)
						}
					case "ipam":
						group(fv, map[string]bool{"config": true, "driver": true}, what, "ipam.")
						eachKey(fv, func(ik, iv *yaml.Node) {
							if ik.Value == "config" && iv.Kind == yaml.SequenceNode {
								for _, c := range iv.Content {
									group(c, map[string]bool{"subnet": true, "gateway": true}, what, "ipam.config.")
								}
							}
						})
					}
				})
			})
		case k.Value == "volumes":
			eachKey(v, func(name, vv *yaml.Node) {
				what := fmt.Sprintf("volume %q: ", name.Value)
				group(vv, supportedVolumeKeys, what, "")
				eachKey(vv, func(f, fv *yaml.Node) {
					switch {
					case f.Value == "external":
						warnExternalName(warn, what, fv)
					case f.Value == "driver" && fv.Value != "local":
						warn(fv, "%sdriver %q is not supported; berth keeps volumes under its state dir", what, fv.Value)
					case f.Value == "driver_opts":
						opts := map[string]string{}
						eachKey(fv, func(ok, ov *yaml.Node) { opts[ok.Value] = ov.Value })
						if w := volumeDriverOptsWarning(opts); w != "" {
							warn(f, "%s%s", what, w)
						}
					}
				})
			})
		case k.Value == "secrets" || k.Value == "configs":
			eachKey(v, func(name, fv *yaml.Node) {
				group(fv, supportedFileObjectKeys, fmt.Sprintf("%s %q: ", strings.TrimSuffix(k.Value, "s"), name.Value), "")
			})
		case k.Value == "services":
			eachKey(v, func(name, svc *yaml.Node) {
				what := fmt.Sprintf("service %q: ", name.Value)
				group(svc, supportedServiceKeys, what, "")
				eachKey(svc, func(f, fv *yaml.Node) {
					if f.Value != "deploy" {
						return
					}
					group(fv, supportedDeployKeys, what, "deploy.")
					eachKey(fv, func(d, dv *yaml.Node) {
						switch d.Value {
						case "resources":
							group(dv, map[string]bool{"limits": true, "reservations": true}, what, "deploy.resources.")
							eachKey(dv, func(r, rv *yaml.Node) {
								allowed := supportedLimitKeys
								if r.Value == "reservations" {
									allowed = supportedReservationKeys
								}
								group(rv, allowed, what, "deploy.resources."+r.Value+".")
							})
						case "restart_policy":
							group(dv, supportedRestartPolicyKeys, what, "deploy.restart_policy.")
						}
					})
				})
			})
		}
	})
	return warns
}

// warnExternalName warns about the deprecated `external: {name: x}`,
// which compose-go still reads as `name: x` + `external: true`.
func warnExternalName(warn func(*yaml.Node, string, ...any), what string, ext *yaml.Node) {
	eachKey(ext, func(k, _ *yaml.Node) {
		if k.Value == "name" {
			warn(k, "%sfield \"external.name\" is deprecated; set name and external: true", what)
		}
	})
}

// extendedFields warns about unsupported fields of base services that
// `extends: {file: F, service: S}` pulls in from another file, naming F's
// line. Other services of F are not part of the project and stay silent.
func extendedFields(ps *positions) []string {
	bases := map[string]map[string]bool{} // file → base services used
	for _, f := range ps.files {
		eachKey(ps.docs[f], func(k, v *yaml.Node) {
			if k.Value != "services" {
				return
			}
			eachKey(v, func(_, svc *yaml.Node) {
				eachKey(svc, func(fk, fv *yaml.Node) {
					if fk.Value != "extends" {
						return
					}
					var file, base string
					eachKey(fv, func(ek, ev *yaml.Node) {
						switch ek.Value {
						case "file":
							file = ev.Value
						case "service":
							base = ev.Value
						}
					})
					if file == "" || base == "" || strings.Contains(file, "$") {
						return
					}
					if !filepath.IsAbs(file) {
						file = filepath.Join(filepath.Dir(f), file)
					}
					if bases[file] == nil {
						bases[file] = map[string]bool{}
					}
					bases[file][base] = true
				})
			})
		})
	}
	var warns []string
	for file, names := range bases {
		if _, indexed := ps.docs[file]; indexed {
			continue // a project file: already walked
		}
		b, err := os.ReadFile(file)
		if err != nil {
			continue // compose-go reports it
		}
		var doc yaml.Node
		if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
			continue
		}
		for _, w := range unsupportedFields(file, doc.Content[0]) {
			for name := range names {
				if strings.Contains(w, fmt.Sprintf(": service %q: ", name)) {
					warns = append(warns, w)
				}
			}
		}
	}
	return warns
}
