#!/bin/sh
# Runs the bundled hello example: a busybox image built from busybox-static
# is pushed to the registry on 127.0.0.1:5000 (Debian's docker-registry), the
# project is copied to /etc/berth and applied.
set -eu
cd "$(dirname "$0")/.."
if [ "$(cat /proc/1/comm)" != systemd ]; then
	echo "PID 1 is not systemd here: running the hello example in a sandboxed systemd instead."
	exec go test -tags seccomp -count=1 -run 'TestWalkingSkeleton$' -v ./hack/e2e
fi
REG=127.0.0.1:5000
systemctl start docker-registry.service
i=0
until busybox wget -q -O /dev/null "http://$REG/v2/"; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "registry on $REG does not answer" >&2; exit 1; }
	sleep 0.2
done
go run ./hack/pushbusybox "$REG/busybox:latest"
install -d -m 0755 /etc/berth/hello
cp examples/hello/compose.yaml /etc/berth/hello/compose.yaml
berth apply
berth ps
echo "Logs: journalctl -u berth-hello-ticker.service -f"
