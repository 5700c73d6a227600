package network

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/libcni"
)

// cniVersion 1.1.0 gives DEL the cached result and lets GC remove stale
// reservations.
const cniVersion = "1.1.0"

// confList renders r as a CNI network configuration list:
//   - bridge: one bridge per network, the gateway address on it, hairpin
//     mode so a container reaches its own published port through the host;
//     the address is fixed through the "ips" capability (host-local
//     honours it), the container interface's MAC through the "mac"
//     capability;
//   - host-local IPAM under the run dir (reservations end with a reboot),
//     with a default route only on non-internal networks;
//   - portmap (published ports; not on internal networks, as docker).
//
// Masquerading and the isolation between berth bridges are the network's,
// installed once with its first ADD (syncRules), not per container.
func confList(r *Record, p Paths) (*libcni.NetworkConfigList, error) {
	routes := []map[string]string{}
	if !r.Internal {
		routes = append(routes, map[string]string{"dst": "0.0.0.0/0"})
	}
	plugins := []map[string]any{{
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
			"ranges":  [][]map[string]string{{{"subnet": r.Subnet, "gateway": r.Gateway}}},
			"routes":  routes,
		},
	}}
	if !r.Internal {
		plugins = append(plugins, map[string]any{
			"type":         "portmap",
			"backend":      "nftables",
			"snat":         true,
			"capabilities": map[string]bool{"portMappings": true},
		})
	}
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
