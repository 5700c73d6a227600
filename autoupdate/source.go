package autoupdate

import (
	"context"
	"log/slog"

	"github.com/berth-dev/berth/compose/model"
)

// Unit is a unit of berth's as its listing shows it: the labels (unit
// environment) it was created with.
type Unit struct {
	Name             string
	Project, Service string
	// Hash names the frozen spec the unit runs.
	Hash string
	// Image is the image the unit was created for, shown when its spec
	// cannot be read.
	Image string
	// NoImage is set for units that run no image of their own (a pod's
	// sandbox).
	NoImage bool
}

// UnitLister lists the units berth made.
type UnitLister interface {
	ListUnits(ctx context.Context) ([]Unit, error)
}

// Specs reads the frozen spec a unit was created with, by the spec hash
// the unit carries.
type Specs interface {
	ForUnit(ctx context.Context, project, service, hash string) (*model.Service, error)
}

// UnitSource is the Source of every unit berth made, each paired with the
// frozen spec it runs (found by its spec hash, so edits not yet applied do
// not count) and the digest its container was started from.
type UnitSource struct {
	Units      UnitLister
	Specs      Specs
	Containers Containers
	Log        *slog.Logger
}

var _ Source = UnitSource{}

// Targets implements Source. Units that berth did not make or that run no
// image are left out; units whose spec cannot be read come back as targets
// with Err set, so they are reported and block nothing.
func (s UnitSource) Targets(ctx context.Context) ([]Target, error) {
	us, err := s.Units.ListUnits(ctx)
	if err != nil {
		return nil, err
	}
	var targets []Target
	for _, u := range us {
		if u.Project == "" || u.Service == "" || u.NoImage {
			continue
		}
		svc, err := s.Specs.ForUnit(ctx, u.Project, u.Service, u.Hash)
		if err != nil {
			targets = append(targets, Target{
				Unit:    u.Name,
				Service: &model.Service{Project: u.Project, Name: u.Service, Image: u.Image},
				Err:     err,
			})
			continue
		}
		t := Target{Unit: u.Name, Service: svc}
		if s.Containers != nil {
			if d, err := s.Containers.RunningDigest(ctx, svc); err == nil {
				t.RunningDigest = d
			} else if s.Log != nil {
				s.Log.Debug("no container state", "unit", u.Name, "err", err)
			}
		}
		targets = append(targets, t)
	}
	return targets, nil
}
