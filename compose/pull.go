package compose

import (
	"strings"

	"github.com/berth-dev/berth/compose/model"
)

// pullPolicy reads compose's pull_policy. always and never are carried out
// by the launcher at every start; missing is berth's default; the refresh
// policies (daily, weekly, every_<duration>) pull when missing, with a
// warning pointing at auto-update, which refreshes tags; build rebuilds
// a `build:` service at every (re)create (see build).
func pullPolicy(c svcAt, v string, s *model.Service) error {
	field := []string{"pull_policy"}
	switch v {
	case "", "missing", "if_not_present":
		s.PullPolicy = model.PullMissing
	case "always":
		s.PullPolicy = model.PullAlways
	case "never":
		s.PullPolicy = model.PullNever
	case "build": // see build
	default:
		// daily, weekly, refresh, every_<n>[wdhms]…; compose-go's schema
		// refused anything else already.
		if v != "daily" && v != "weekly" && v != "refresh" && !strings.HasPrefix(v, "every_") {
			return c.errorf(field, "%q is not a pull policy (valid: always, missing, never, daily, weekly, every_<duration>, build)", v)
		}
		c.warnf(field, "%q pulls like \"missing\"; to follow the tag, set x-berth.autoupdate: registry", v)
	}
	return nil
}
