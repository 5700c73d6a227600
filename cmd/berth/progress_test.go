package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/reconciler"
	"github.com/berth-dev/berth/runtime/image"
)

// fakeTerm is a terminal screen that understands the escape sequences the
// live view writes: CR, LF, cursor up (ESC[nA), erase line (ESC[2K) and
// erase below (ESC[J). Lines longer than the width wrap, as on a terminal.
type fakeTerm struct {
	width    int
	rows     []string
	row, col int
}

func (t *fakeTerm) Write(p []byte) (int, error) {
	s := []rune(string(p))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r':
			t.col = 0
		case c == '\n':
			t.row++
			t.col = 0
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			j := i + 2
			for j < len(s) && (s[j] >= '0' && s[j] <= '9') {
				j++
			}
			n, _ := strconv.Atoi(string(s[i+2 : j]))
			switch s[j] {
			case 'A':
				t.row = max(t.row-n, 0)
			case 'K':
				t.line()
				t.rows[t.row] = ""
			case 'J':
				t.line()
				t.rows = append(t.rows[:t.row], string([]rune(t.rows[t.row])[:min(t.col, len([]rune(t.rows[t.row])))]))
			}
			i = j
		default:
			if t.col >= t.width {
				t.row++
				t.col = 0
			}
			t.line()
			r := []rune(t.rows[t.row])
			for len(r) < t.col {
				r = append(r, ' ')
			}
			if t.col < len(r) {
				r[t.col] = c
			} else {
				r = append(r, c)
			}
			t.rows[t.row] = string(r)
			t.col++
		}
	}
	return len(p), nil
}

func (t *fakeTerm) line() {
	for len(t.rows) <= t.row {
		t.rows = append(t.rows, "")
	}
}

// screen is what the user sees, without trailing empty rows.
func (t *fakeTerm) screen() string {
	rows := append([]string(nil), t.rows...)
	for len(rows) > 0 && strings.TrimSpace(rows[len(rows)-1]) == "" {
		rows = rows[:len(rows)-1]
	}
	return strings.Join(rows, "\n")
}

func TestTTYViewShowsBarsAndUnits(t *testing.T) {
	term := &fakeTerm{width: 80}
	v := newTTYView(term, term.width)
	clock := time.Unix(1000, 0)
	v.now = func() time.Time { return clock }
	const ref = "127.0.0.1:5000/busybox:latest"
	web := reconciler.Change{Action: reconciler.Create, Project: "hello", Service: "web", Unit: "berth-hello-web.service"}
	db := reconciler.Change{Action: reconciler.Recreate, Project: "hello", Service: "db", Unit: "berth-hello-db.service"}

	v.pull(image.Progress{Ref: ref, Layer: "sha256:aaaaaaaaaaaaaaaaaaaa", Done: 512 << 10, Total: 2 << 20})
	v.pull(image.Progress{Ref: ref, Layer: "sha256:bbbbbbbbbbbbbbbbbbbb", Done: 4096, Total: 4096, Cached: true, Finished: true})
	v.draw()
	got := term.screen()
	if !strings.Contains(got, "busybox:latest aaaaaaaaaaaa [=====>      ") || !strings.Contains(got, "]  25% 512.0 kB / 2.0 MB") {
		t.Errorf("no progress bar for the downloading layer:\n%s", got)
	}
	if strings.Contains(got, "bbbbbbbbbbbb") {
		t.Errorf("a cached layer got a bar:\n%s", got)
	}

	v.pull(image.Progress{Ref: ref, Layer: "sha256:aaaaaaaaaaaaaaaaaaaa", Done: 2 << 20, Total: 2 << 20, Finished: true})
	v.pulled(ref, nil)
	v.starting(web)
	v.starting(db)
	clock = clock.Add(1500 * time.Millisecond)
	v.draw()
	want := []string{
		"✔ pulled busybox:latest (2 layers, 1 cached, 2.0 MB)",
		"… hello/web: creating 1.5s",
		"… hello/db: recreating 1.5s",
	}
	if got := term.screen(); got != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	v.done(web, nil)
	failure := "starting unit berth-hello-db.service: job failed: " + strings.Repeat("x", 40)
	v.done(db, errors.New(failure))
	v.close()
	want = []string{
		want[0],
		"✔ hello/web: created (berth-hello-web.service) 1.5s",
	}
	// Finished lines are never cut: an error is shown whole (wrapped).
	msg := []rune("✘ hello/db: recreate failed: " + failure)
	want = append(want, string(msg[:80]), string(msg[80:]))
	if got := term.screen(); got != strings.Join(want, "\n") {
		t.Errorf("final screen:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestTTYViewCutsLiveLines: a live line wider than the terminal is cut, so
// redrawing never leaves wrapped remnants behind.
func TestTTYViewCutsLiveLines(t *testing.T) {
	term := &fakeTerm{width: 30}
	v := newTTYView(term, term.width)
	long := reconciler.Change{Action: reconciler.Create, Project: "a-very-long-project-name", Service: "and-a-long-service", Unit: "u"}
	v.starting(long)
	v.draw()
	v.draw()
	v.done(long, nil)
	v.draw()
	rows := strings.Split(term.screen(), "\n")
	if !strings.HasPrefix(rows[0], "✔ a-very-long-project-name/and") {
		t.Errorf("screen after the redraws:\n%s", term.screen())
	}
	for _, r := range rows {
		if strings.HasPrefix(r, "…") {
			t.Errorf("a live line was left behind:\n%s", term.screen())
		}
	}
}

// TestPlainViewLines: without a terminal, apply prints exactly one line per
// action (scripts and the e2e tests parse these).
func TestPlainViewLines(t *testing.T) {
	var buf bytes.Buffer
	v := newApplyView(&buf)
	if _, ok := v.(plainView); !ok {
		t.Fatalf("a buffer got a %T", v)
	}
	v.pull(image.Progress{Ref: "x", Layer: "l", Done: 1, Total: 2})
	v.pulled("x", nil)
	c := reconciler.Change{Action: reconciler.Create, Project: "hello", Service: "web", Unit: "berth-hello-web.service"}
	v.starting(c)
	v.done(c, nil)
	v.done(reconciler.Change{Action: reconciler.Remove, Project: "hello", Service: "old"}, errors.New("boom"))
	v.close()
	want := "hello/web: created (berth-hello-web.service)\nhello/old: remove failed: boom\n"
	if buf.String() != want {
		t.Errorf("plain output:\n%q\nwant:\n%q", buf.String(), want)
	}
}

// TestTTYViewLogsScrollAbove: the plan and log lines written while units
// are in progress stay whole, above the live region, in order.
func TestTTYViewLogsScrollAbove(t *testing.T) {
	term := &fakeTerm{width: 80}
	v := newTTYView(term, term.width)
	v.now = func() time.Time { return time.Unix(0, 0) }
	v.print(func(w io.Writer) { fmt.Fprintln(w, "+ create hello/web (berth-hello-web.service)") })
	web := reconciler.Change{Action: reconciler.Create, Project: "hello", Service: "web", Unit: "berth-hello-web.service"}
	v.starting(web)
	v.draw()
	fmt.Fprintln(v, "level=INFO msg=\"image pulled\"")
	v.draw()
	want := "+ create hello/web (berth-hello-web.service)\nlevel=INFO msg=\"image pulled\"\n… hello/web: creating 0.0s"
	if got := term.screen(); got != want {
		t.Errorf("screen:\n%s\nwant:\n%s", got, want)
	}
	v.done(web, nil)
	v.close()
	fmt.Fprintln(v, "after close")
	want = "+ create hello/web (berth-hello-web.service)\nlevel=INFO msg=\"image pulled\"\n✔ hello/web: created (berth-hello-web.service) 0.0s\nafter close"
	if got := term.screen(); got != want {
		t.Errorf("final screen:\n%s\nwant:\n%s", got, want)
	}
}
