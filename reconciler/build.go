package reconciler

import (
	"context"

	"github.com/berth-dev/berth/compose/model"
)

// Builder builds a service's image (compose build:) into the image store.
// It may settle what the built image declares into svc (its HEALTHCHECK),
// which then is part of the unit's spec hash.
type Builder interface {
	Build(ctx context.Context, svc *model.Service) error
}

// build runs before anything of a create or recreate touches a running
// unit, so a failed build fails that service alone and leaves its running
// container as it is.
func (r *Reconciler) build(ctx context.Context, svc *model.Service) error {
	if svc.Build == nil || r.Builder == nil {
		return nil
	}
	return r.Builder.Build(ctx, svc)
}
