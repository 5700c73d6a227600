#!/bin/sh
# Runs the bundled hello example: a busybox image built from busybox-static
# is pushed to a registry of the example's own on 127.0.0.1:5050, the
# project is copied to /etc/berth and applied.
#
# The registry is Debian's docker-registry binary, run as the transient unit
# example-registry.service with a config of its own: the package's
# docker-registry.service has htpasswd auth on and listens on every address.
set -eu
cd "$(dirname "$0")/.."
if [ "$(cat /proc/1/comm)" != systemd ]; then
	echo "PID 1 is not systemd here: running the hello example in a sandboxed systemd instead."
	exec go test -tags seccomp -count=1 -run 'TestWalkingSkeleton$' -v ./hack/e2e
fi
REG=127.0.0.1:5050
DIR=/var/lib/berth-example-registry
if ! systemctl is-active -q example-registry.service; then
	install -d -m 0700 "$DIR"
	cat > "$DIR/config.yml" <<CONF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $DIR/storage}, delete: {enabled: true}}
http: {addr: "$REG"}
CONF
	systemd-run -q --unit example-registry.service --description "registry for berth's examples" \
		/usr/bin/docker-registry serve "$DIR/config.yml"
fi
i=0
until busybox wget -q -O /dev/null "http://$REG/v2/"; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "registry on $REG does not answer" >&2; journalctl -u example-registry.service -n 20 --no-pager >&2; exit 1; }
	sleep 0.2
done
bin/pushbusybox "$REG/busybox:latest"
install -d -m 0755 /etc/berth/hello
cp examples/hello/compose.yaml /etc/berth/hello/compose.yaml
berth apply
berth ps
echo "Logs: journalctl -u berth-hello-ticker.service -f"
