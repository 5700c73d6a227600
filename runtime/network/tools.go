package network

import (
	"errors"
	"fmt"
)

// Tool is a host program that attaching a container to a network executes,
// directly or through a CNI plugin, and the Debian package providing it.
type Tool struct {
	Name    string // looked up in $PATH, as the plugins do
	Package string // Debian package that installs it
	// Internal says whether internal networks (no masquerading, no
	// published ports) need it too.
	Internal bool
}

// Tools are the programs attaching executes: nft for each network's rules
// (syncRules, through sigs.k8s.io/knftables) and GC's sweep of published
// ports (a container's own go over netlink), iptables for berth's sweeps of rules the
// firewall plugin made (go-iptables). hack/debpkg checks that the
// Makefile's DEB_PACKAGES lists every package here.
func Tools() []Tool {
	return []Tool{
		{Name: "nft", Package: "nftables", Internal: true},
		{Name: "iptables", Package: "iptables", Internal: true},
	}
}

// ErrToolMissing is wrapped by the errors of CheckTools.
var ErrToolMissing = errors.New("host tool missing")

// MissingToolError is a tool that is not in $PATH.
type MissingToolError struct{ Tool Tool }

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("%s not found in $PATH: install Debian package %s", e.Tool.Name, e.Tool.Package)
}

func (e *MissingToolError) Unwrap() error { return ErrToolMissing }

// CheckTools looks up in $PATH every tool that attaching to networks with
// the given internal flags needs, so that a missing one fails the start
// with the package to install instead of a plugin's exec error half-way
// through an ADD. lookPath is exec.LookPath outside tests.
func CheckTools(lookPath func(string) (string, error), internal ...bool) error {
	external := false
	for _, in := range internal {
		external = external || !in
	}
	var errs []error
	for _, t := range Tools() {
		if !t.Internal && !external {
			continue
		}
		if _, err := lookPath(t.Name); err != nil {
			errs = append(errs, &MissingToolError{Tool: t})
		}
	}
	return errors.Join(errs...)
}
