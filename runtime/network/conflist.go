package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/containernetworking/cni/libcni"
)

// cniVersion 1.1.0 gives DEL the cached result and lets GC remove stale
// reservations.
const cniVersion = "1.1.0"

// confList renders r as a CNI network configuration list:
//   - bridge: one bridge per network (driver_opts may name it and set its
//     MTU), the gateway address of each subnet on it, hairpin
//     mode so a container reaches its own published port through the host;
//     the addresses (one per subnet) are fixed through the "ips"
//     capability (host-local honours it), the container interface's MAC
//     through the "mac" capability;
//   - host-local IPAM under the run dir (reservations end with a reboot),
//     one range set per subnet, with a default route per address family
//     only on non-internal networks.
//
// Masquerading (unless internal or enable_ip_masquerade is false), the
// isolation between berth bridges and the DNAT of published ports are the
// network's, installed once with its first ADD (syncRules), not per
// container; a container adds only its ports, as map elements (publish).
// Attachments made with the portmap plugin keep it in libcni's cached
// configuration, which their DEL runs.
func confList(r *Record, p Paths) (*libcni.NetworkConfigList, error) {
	// One range set per subnet: host-local gives one address in each.
	var ranges [][]map[string]string
	routes := []map[string]string{}
	for _, pool := range r.Pools() {
		ranges = append(ranges, []map[string]string{{"subnet": pool.Subnet, "gateway": pool.Gateway}})
		if !r.Internal {
			dst := "0.0.0.0/0"
			if netip.MustParsePrefix(pool.Subnet).Addr().Is6() {
				dst = "::/0"
			}
			if !slices.ContainsFunc(routes, func(m map[string]string) bool { return m["dst"] == dst }) {
				routes = append(routes, map[string]string{"dst": dst})
			}
		}
	}
	bridge := map[string]any{
		"type":        "bridge",
		"bridge":      r.Bridge,
		"isGateway":   true,
		"hairpinMode": true,
		"capabilities": map[string]bool{
			"ips": true,
			"mac": true,
		},
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": p.ipamDir(),
			"ranges":  ranges,
			"routes":  routes,
		},
	}
	if r.MTU > 0 {
		bridge["mtu"] = r.MTU
	}
	plugins := []map[string]any{bridge}
	b, err := json.Marshal(map[string]any{
		"cniVersion": cniVersion,
		"name":       r.Name,
		"plugins":    plugins,
	})
	if err != nil {
		return nil, err
	}
	l, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("network %s: building CNI config: %w", r.Name, err)
	}
	return l, nil
}
