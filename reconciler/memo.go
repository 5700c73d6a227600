package reconciler

import (
	"github.com/berth-dev/berth/compose/model"
)

// Memo remembers what a plan derives from each loaded service, its spec
// hash and the limits its unit sets, keyed by the service's address. The
// agent plans the same loaded entries on every re-list pass, and hashing
// and rendering every service again was most of a no-op pass. A Memo is
// valid for one load of the entries, which must not change while it is
// used: the Source starts a new one whenever it reloads. A nil *Memo
// computes everything afresh.
type Memo struct {
	m map[*model.Service]*derived
}

type derived struct {
	hash   string
	limits []wantLimit
}

func (m *Memo) get(svc *model.Service) *derived {
	if m == nil {
		return &derived{}
	}
	if m.m == nil {
		m.m = map[*model.Service]*derived{}
	}
	d := m.m[svc]
	if d == nil {
		d = &derived{}
		m.m[svc] = d
	}
	return d
}

// hash is svc.Hash(), computed once per load.
func (m *Memo) hash(svc *model.Service) string {
	d := m.get(svc)
	if d.hash == "" {
		d.hash = svc.Hash()
	}
	return d.hash
}

// limits is desiredLimits(svc), rendered once per load.
func (m *Memo) limits(svc *model.Service) []wantLimit {
	d := m.get(svc)
	if d.limits == nil {
		d.limits = desiredLimits(svc)
	}
	return d.limits
}
