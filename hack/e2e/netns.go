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
func (s *Sandbox) listenInside(addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	rc := make(chan result, 1)
	go func() {
		// The thread enters the sandbox's netns and is never unlocked, so
		// Go discards it with this goroutine.
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", s.pid))
		if err != nil {
			rc <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			rc <- result{err: fmt.Errorf("entering the sandbox's netns: %w", err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		rc <- result{ln, err}
	}()
	r := <-rc
	if r.err != nil {
		return nil, fmt.Errorf("forwarding %s into the sandbox: %w", addr, r.err)
	}
	return r.ln, nil
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
