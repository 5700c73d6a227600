package units

import (
	"time"

	"github.com/berth-dev/berth/compose/model"
)

// DefaultStartTimeout is a service unit's TimeoutStartSec= unless
// x-berth.unit sets one.
const DefaultStartTimeout = 5 * time.Minute

// StartTimeout is how long svc's unit may take to start: x-berth.unit's
// TimeoutStartSec= (the last value, as systemd reads it), else
// DefaultStartTimeout; 0 means no limit (a job, "infinity", "0").
func StartTimeout(svc *model.Service) time.Duration {
	if svc.Oneshot {
		return 0
	}
	vs := svc.Unit["TimeoutStartSec"]
	if len(vs) == 0 {
		return DefaultStartTimeout
	}
	_, v, err := usec("TimeoutStartUSec")(vs[len(vs)-1])
	us, ok := v.(uint64)
	if err != nil || !ok || us == 1<<64-1 {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}
