# berth: build, install, test, bench. `make help` lists the targets.
GO        ?= go
PREFIX    ?= /usr/local
UNITDIR   ?= /usr/lib/systemd/system
CNIDIR    ?= $(PREFIX)/lib/berth/cni
BIN       := bin/berth
# The launcher units execute to start containers: berth without its Compose
# loader, so each start pays less package init (cmd/berth-launcher).
LAUNCHER  := bin/berth-launcher
# CNI plugins, built from the `tool` directives in go.mod (offline after
# `go mod download`) into bin/cni, where a build-tree berth finds them.
CNI_PLUGINS := $(addprefix github.com/containernetworking/plugins/plugins/,\
	main/bridge ipam/host-local meta/portmap meta/firewall main/loopback meta/tuning)
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# seccomp: libcontainer applies the default profile only when built with it.
TAGS      := seccomp
export CGO_ENABLED := 1

# Debian packages the build, the tests and the benchmarks use: the only ones
# the VM suite (hack/vm) installs, so a missing one fails there, and
# hack/debpkg fails when code execs a program no package here provides.
# ca-certificates: `go mod download` verifies the module proxy's TLS.
# nftables: berth's network rules and published ports (table inet berth),
# and the portmap plugin a container attached by an older berth is
# detached with; iptables: the firewall plugin of such attachments.
# git: the agent's GitOps test; podman-compose: the network benchmark.
# buildah: compose build: services (docs/build.md); the build benchmark uses podman.
DEB_PACKAGES := build-essential buildah pkg-config libseccomp-dev ca-certificates systemd dbus \
	busybox-static docker-registry iptables nftables iproute2 runc podman podman-compose \
	catatonit skopeo util-linux procps kmod git
# VM_PACKAGES: what the VM suite needs on the machine that runs it.
VM_PACKAGES := qemu-system-x86 mmdebstrap e2fsprogs

.PHONY: help deps deb-packages vm-deps build install uninstall test test-unit test-fuzz test-vm bench example clean

help:
	@echo "make deps     install Debian packages and Go modules (root)"
	@echo "make build    build $(BIN) and $(LAUNCHER)"
	@echo "make install  install berth and its units (root)"
	@echo "make example  run the bundled hello example (root)"
	@echo "make test     unit and integration tests (root; boots a sandboxed systemd), then the VM suite"
	@echo "make test-vm  the VM suite alone: a fresh Debian under QEMU, cgroup v2, real reboots (root)"
	@echo "make bench    start-latency benchmark against runc and podman (root)"

deps:
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES) \
	  || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEB_PACKAGES))
	$(GO) mod download

# deb-packages prints DEB_PACKAGES, for the VM suite's rootfs.
deb-packages:
	@echo $(DEB_PACKAGES)

# vm-deps: what the VM suite needs on the machine that runs it.
vm-deps:
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(VM_PACKAGES) \
	  || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(VM_PACKAGES))

build:
	$(GO) build -tags '$(TAGS)' -trimpath -ldflags '-X main.version=$(VERSION)' -o $(BIN) ./cmd/berth
	$(GO) build -tags '$(TAGS)' -trimpath -o $(LAUNCHER) ./cmd/berth-launcher
	@mkdir -p bin/cni
	$(GO) build -trimpath -o bin/cni/ $(CNI_PLUGINS)

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/berth
	install -D -m 0755 $(LAUNCHER) $(DESTDIR)$(PREFIX)/bin/berth-launcher
	install -d -m 0755 $(DESTDIR)$(CNIDIR)
	install -m 0755 bin/cni/* $(DESTDIR)$(CNIDIR)/
	install -D -m 0644 systemd/dist/berth.service $(DESTDIR)$(UNITDIR)/berth.service
	install -D -m 0644 systemd/dist/berth-auto-update.service $(DESTDIR)$(UNITDIR)/berth-auto-update.service
	install -D -m 0644 systemd/dist/berth-auto-update.timer $(DESTDIR)$(UNITDIR)/berth-auto-update.timer
	install -d -m 0755 $(DESTDIR)/etc/berth
	install -d -m 0700 $(DESTDIR)/var/lib/berth
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload && systemctl enable berth.service; fi

uninstall:

# example: push a busybox image built from busybox-static to a registry on
# 127.0.0.1 and apply examples/hello. Without systemd as PID 1 (containers,
# CI) it runs in a sandboxed systemd, as the tests do.
example: install bin/pushbusybox
	hack/example.sh

# pushbusybox builds the example's image; a file target, so a VM (or a
# second run) that already has it needs no Go compile.
bin/pushbusybox: go.mod go.sum $(wildcard hack/pushbusybox/*.go hack/e2e/*.go)
	$(GO) build -trimpath -o $@ ./hack/pushbusybox

# test runs everything but the VM suite first, then the VM suite alone: it
# boots QEMU under TCG and wants both cores.
test: vm-deps
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) test -tags '$(TAGS)' -count=1 -timeout 60m $$($(GO) list ./... | grep -v /hack/vm)
	$(MAKE) test-fuzz
	$(MAKE) test-vm

# test-fuzz runs each fuzz target for FUZZTIME; a crash fails the build and
# leaves its input under the package's testdata/fuzz, a new test case.
FUZZ = compose:FuzzLoadProject compose:FuzzShortSyntax compose/kube:FuzzParse units:FuzzRender
FUZZTIME = 30s
test-fuzz:
	@set -e; for t in $(FUZZ); do \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}\$$" -fuzztime $(FUZZTIME) ./$${t%%:*}; \
	done

test-vm:
	$(GO) test -count=1 -timeout 70m -v ./hack/vm

test-unit:
	$(GO) test -tags '$(TAGS)' -count=1 -short ./compose/... ./units/... ./reconciler/...

bench: build
	$(GO) test -tags '$(TAGS)' -run '^$$' -bench . -benchtime 20x -timeout 30m -v ./hack/bench

clean:
	rm -rf bin
