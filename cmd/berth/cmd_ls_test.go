package main

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/systemd"
)

func TestProjectRows(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	unit := func(p, s, state string, since time.Time) systemd.Unit {
		u := unitOf(p, s)
		u.ActiveState, u.Since = state, since
		return u
	}
	entries := []model.Entry{
		{Name: "shop", Path: "/etc/berth/shop/compose.yaml", Project: &model.Project{Name: "shop"}},
		{Name: "idle", Path: "/etc/berth/idle.yaml", Project: &model.Project{Name: "idle"}},
		{Name: "broken", Path: "/etc/berth/broken.yaml", Err: errors.New("line 3: bad")},
	}
	us := []systemd.Unit{
		unit("shop", "web", "active", t0), unit("shop", "db", "active", t0.Add(time.Hour)), unit("shop", "job", "inactive", time.Time{}),
		unit("broken", "web", "active", t0),
		unit("gone", "web", "failed", time.Time{}),
	}
	rows := projectRows(entries, us)
	want := []lsRow{
		{Name: "broken", Status: "running(1), error", ConfigFile: "/etc/berth/broken.yaml", Updated: t0, Error: "line 3: bad"},
		{Name: "gone", Status: "failed(1)"},
		{Name: "idle", Status: "stopped", ConfigFile: "/etc/berth/idle.yaml"},
		{Name: "shop", Status: "running(2), exited(1)", ConfigFile: "/etc/berth/shop/compose.yaml", Updated: t0.Add(time.Hour)},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
}
