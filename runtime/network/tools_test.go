package network

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestCheckToolsNamesThePackage: a tool missing from $PATH fails the check
// with the Debian package to install; internal networks need no nft.
func TestCheckToolsNamesThePackage(t *testing.T) {
	only := func(present ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, p := range present {
				if p == name {
					return "/usr/sbin/" + name, nil
				}
			}
			return "", exec.ErrNotFound
		}
	}
	err := CheckTools(only("iptables"), false)
	if !errors.Is(err, ErrToolMissing) || err.Error() != "nft not found in $PATH: install Debian package nftables" {
		t.Errorf("nft missing: %v", err)
	}
	err = CheckTools(only(), true, false)
	for _, want := range []string{"nft not found in $PATH: install Debian package nftables", "iptables not found in $PATH: install Debian package iptables"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("nothing installed: %v, want %q", err, want)
		}
	}
	// Internal networks have nftables rules too (isolation).
	if err := CheckTools(only("iptables"), true); err == nil || err.Error() != "nft not found in $PATH: install Debian package nftables" {
		t.Errorf("internal network without nft: %v", err)
	}
	if err := CheckTools(only("nft", "iptables")); err != nil {
		t.Errorf("everything installed: %v", err)
	}
}
