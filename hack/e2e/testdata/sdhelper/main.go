// Command sdhelper is a test program for berth's systemd integration, run
// inside test containers (static, no libc):
//
//	sdhelper notify DELAY    sleep DELAY, send READY=1 to $NOTIFY_SOCKET,
//	                         then STATUS=serving; run until SIGTERM
//	sdhelper serve-fd3       serve HTTP on the inherited listener fd 3
//	                         (socket activation), answering with what the
//	                         process was given
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: sdhelper notify DELAY | serve-fd3")
	}
	switch os.Args[1] {
	case "notify":
		notify()
	case "serve-fd3":
		serveFD3()
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "sdhelper:", msg)
	os.Exit(2)
}

func send(msg string) {
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"})
	if err != nil {
		fail("notify: " + err.Error())
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		fail("notify: " + err.Error())
	}
}

func notify() {
	delay, err := time.ParseDuration(os.Args[2])
	if err != nil {
		fail(err.Error())
	}
	fmt.Println("sdhelper: starting, NOTIFY_SOCKET=" + os.Getenv("NOTIFY_SOCKET"))
	time.Sleep(delay)
	send("READY=1")
	fmt.Println("sdhelper: sent READY=1")
	// Later messages go to systemd once the launcher is gone; retry until
	// the hand-over happened.
	for range 50 {
		time.Sleep(200 * time.Millisecond)
		conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"})
		if err != nil {
			continue
		}
		_, err = conn.Write([]byte("STATUS=serving"))
		conn.Close()
		if err == nil {
			fmt.Println("sdhelper: sent STATUS=serving")
		}
	}
	waitTerm()
}

func serveFD3() {
	if os.Getenv("LISTEN_PID") != fmt.Sprint(os.Getpid()) || os.Getenv("LISTEN_FDS") == "" {
		fail(fmt.Sprintf("not socket-activated: LISTEN_PID=%q LISTEN_FDS=%q pid=%d", os.Getenv("LISTEN_PID"), os.Getenv("LISTEN_FDS"), os.Getpid()))
	}
	l, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		fail("fd 3: " + err.Error())
	}
	host, _ := os.Hostname()
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "served by pid=%d host=%s fds=%s names=%s\n", os.Getpid(), host, os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
		}))
	}()
	fmt.Println("sdhelper: serving on fd 3")
	waitTerm()
}

func waitTerm() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
	os.Exit(0)
}
