package launch

import (
	"slices"
	"testing"

	"github.com/berth-dev/berth/compose/model"

	"github.com/berth-dev/berth/units"
)

// The pod unit's --publish values read back as the ports they came from.
func TestPodPublishRoundTrip(t *testing.T) {
	in := []model.Port{
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
		{HostIP: "::1", HostPort: 9000, ContainerPort: 9000, Protocol: "tcp"},
	}
	var args []string
	for _, p := range in {
		args = append(args, units.PodPublishArg(p))
	}
	out, err := parsePodPublish(args)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in, out) {
		t.Errorf("round trip: %v -> %v -> %v", in, args, out)
	}
	for _, bad := range []string{"8080:80", ":0:80/tcp", "x:1:2/tcp", ":1:2/sctp", "1:2/tcp"} {
		if _, err := parsePodPublish([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
