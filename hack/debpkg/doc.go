// Package debpkg holds a test only: every program berth, its tests and its
// benchmarks execute must come from a Debian package the Makefile lists
// (DEB_PACKAGES, which `make deps` installs and the VM suite's fresh
// Debian gets) or from one every Debian system has. A fresh Debian 12
// once failed every container start because nft was missing; this test
// fails instead.
package debpkg
