package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/berth-dev/berth/compose/model"
	"github.com/berth-dev/berth/runtime/paths"
)

// Explain fills Fields of every recreate caused by a spec change, by
// comparing the frozen spec the running unit was started from (kept under
// the state dir) with the desired one. A missing old spec leaves Fields
// empty; the reason still gives both hashes.
func (r *Reconciler) Explain(ctx context.Context, p *Plan) {
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action != Recreate || c.Current == nil || c.Desired == nil || c.Repair != "" {
			continue
		}
		path, err := r.specs().PathOf(c.Desired.Project, c.Desired.Name, c.Current.Hash)
		if err != nil {
			continue
		}
		old, err := paths.LoadSpec(ctx, path)
		if err != nil {
			continue
		}
		c.Fields = ChangedFields(old, c.Desired)
		if len(c.Fields) > 0 {
			c.Reason = "changed: " + strings.Join(c.Fields, ", ")
		}
	}
}

// ChangedFields names what differs between two specs of one service, in the
// words of the Compose file: "image", "command", "env FOO", "mount content
// /etc/nginx/nginx.conf", "ports" … Top-level fields are compared through
// their JSON form, so a field added to the model is covered without code
// here.
func ChangedFields(old, cur *model.Service) []string {
	a, b := asMap(old), asMap(cur)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if reflect.DeepEqual(a[k], b[k]) {
			continue
		}
		switch k {
		case "environment":
			out = append(out, mapKeys("env ", old.Environment, cur.Environment)...)
		case "labels":
			out = append(out, mapKeys("label ", old.Labels, cur.Labels)...)
		case "mounts":
			out = append(out, mountChanges(old.Mounts, cur.Mounts)...)
		default:
			out = append(out, strings.ReplaceAll(k, "_", " "))
		}
	}
	sort.Strings(out)
	return out
}

func asMap(s *model.Service) map[string]any {
	b, _ := json.Marshal(s)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	return m
}

func mapKeys(prefix string, a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, prefix+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, prefix+k)
		}
	}
	return out
}

// mountChanges says "mount content TARGET" when only a bind source's
// content changed, and "mounts" for anything else.
func mountChanges(a, b []model.Mount) []string {
	if len(a) != len(b) {
		return []string{"mounts"}
	}
	var out []string
	for i := range a {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		hx, hy := x.ContentHash, y.ContentHash
		x.ContentHash, y.ContentHash = "", ""
		if x == y && hx != hy {
			out = append(out, fmt.Sprintf("mount content %s", y.Target))
			continue
		}
		return []string{"mounts"}
	}
	return out
}
