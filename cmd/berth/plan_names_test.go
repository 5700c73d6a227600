package main

import (
	"bytes"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

// TestPlanShowsProjectNames: an entry whose project is named otherwise
// than the entry (a normalised directory name, COMPOSE_PROJECT_NAME or
// name:) is listed with its path, so plan's units trace back to files.
func TestPlanShowsProjectNames(t *testing.T) {
	var b bytes.Buffer
	printProjectNames(&b, []model.Entry{
		{Name: "pihole-doh", Path: "/etc/berth/Pihole-DoH"},
		{Name: "hello", Path: "/etc/berth/hello"},
		{Name: "single", Path: "/etc/berth/single.yaml"},
		{Name: "legacy", Path: "/etc/berth/app"},
		{Name: "", Path: "/etc/berth/dup.yaml"},
	})
	want := "project pihole-doh: /etc/berth/Pihole-DoH\nproject legacy: /etc/berth/app\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
