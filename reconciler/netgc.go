package reconciler

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// netGCInterval bounds how long the agent goes without a network GC while
// nothing changes: a launcher or cleanup killed half-way leaves attachments
// that only a GC removes.
const netGCInterval = 10 * time.Minute

// GCGate is the agent's network GC gate: GC runs when the pass changed
// units (removed services' attachments, new peers for the hosts files),
// when the loaded networks and reservations differ from those at its last
// run (a network dropped from a file), at the first pass, and
// netGCInterval after its last run. Otherwise, as in a no-op pass, it
// costs a comparison; it fingerprints the entries only when the config
// dir was reloaded. A nil *GCGate lets every pass run GC.
type GCGate struct {
	// Now is the clock; nil is time.Now.
	Now  func() time.Time
	last uint64
	next uint64
	at   time.Time
}

func (g *GCGate) now() time.Time {
	if g.Now == nil {
		return time.Now()
	}
	return g.Now()
}

// due reports whether GC should run after the pass res.
func (g *GCGate) due(res *Result) bool {
	if g == nil {
		return true
	}
	g.next = g.last
	if res.Reloaded {
		g.next = networkFingerprint(res.Entries)
	}
	return res.Changes > 0 || g.next != g.last || g.at.IsZero() || g.now().Sub(g.at) >= netGCInterval
}

// done records a GC run.
func (g *GCGate) done(*Result) {
	if g != nil {
		g.last, g.at = g.next, g.now()
	}
}

// networkFingerprint hashes what network GC judges by: each entry's name
// and load state, the networks each loaded project declares and each
// service's reservations (after allocation).
func networkFingerprint(entries []model.Entry) uint64 {
	h := fnv.New64a()
	for _, e := range entries {
		fmt.Fprintf(h, "entry %s %t\n", e.Name, e.Err == nil && e.Project != nil)
		if e.Err != nil || e.Project == nil {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(e.Project.Networks)) {
			n := e.Project.Networks[k]
			fmt.Fprintf(h, "net %s %q %q %t\n", k, n.Name, n.ExternalName, n.External)
		}
		for _, s := range e.Project.Services {
			for _, k := range slices.Sorted(maps.Keys(s.Networks)) {
				fmt.Fprintf(h, "member %s %s %s\n", s.ID(), k, s.Networks[k].IPv4)
			}
		}
		for _, pod := range e.Project.Pods {
			fmt.Fprintf(h, "pod %s %t\n", pod.Name, pod.HostNetwork)
		}
	}
	return h.Sum64()
}
