package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// WithNetNS gives the sandbox its own network namespace, so the bridges,
// addresses and iptables/nftables rules the tests make never touch the
// host's. Loopback is up inside it; each addr in forward (e.g. the
// registry's 127.0.0.1:PORT) is listened on inside the namespace and
// forwarded to the same address on the host, so berth inside still
// reaches it. Sandbox.Command then runs commands in that namespace too.
func WithNetNS(forward ...string) SandboxOption {
	return func(c *sandboxConfig) {
		c.netns = true
		c.forward = append(c.forward, forward...)
	}
}

// setupNetNS brings loopback up and starts the forwarders; they stop at
// test cleanup.
func (s *Sandbox) setupNetNS(t testing.TB, forward []string) error {
	if out, err := s.Command(context.Background(), "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("setting lo up in the sandbox: %v: %s", err, out)
	}
	for _, addr := range forward {
		ln, err := s.listenInside(addr)
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		t.Cleanup(func() { ln.Close(); wg.Wait() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Add(1)
				go func() { defer wg.Done(); pipeTo(c, addr) }()
			}
		}()
	}
	return nil
}

// listenInside opens a listener on addr in the sandbox's network
// namespace: a socket stays in the namespace it was made in.
func (s *Sandbox) listenInside(addr string) (ln net.Listener, err error) {
	if nerr := s.inNetNS(func() { ln, err = net.Listen("tcp", addr) }); nerr != nil {
		return nil, nerr
	}
	if err != nil {
		return nil, fmt.Errorf("forwarding %s into the sandbox: %w", addr, err)
	}
	return ln, nil
}

// DialInside connects to addr from the sandbox's network namespace, as a
// client running inside it would (use it as an http.Transport's
// DialContext). It works with and without WithNetNS.
func (s *Sandbox) DialInside(ctx context.Context, network, addr string) (c net.Conn, err error) {
	if nerr := s.inNetNS(func() { c, err = (&net.Dialer{}).DialContext(ctx, network, addr) }); nerr != nil {
		return nil, nerr
	}
	return c, err
}

// inNetNS runs fn on an OS thread that entered the sandbox's netns. The
// thread is never unlocked, so Go discards it with its goroutine.
func (s *Sandbox) inNetNS(fn func()) error {
	rc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", s.pid))
		if err != nil {
			rc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			rc <- fmt.Errorf("entering the sandbox's netns: %w", err)
			return
		}
		fn()
		rc <- nil
	}()
	return <-rc
}

func pipeTo(c net.Conn, addr string) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
}
