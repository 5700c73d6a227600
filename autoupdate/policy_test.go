package autoupdate

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/compose/model"
)

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{
		"": PolicyDisabled, "disabled": PolicyDisabled, "registry": PolicyRegistry,
		"image": PolicyRegistry, "local": PolicyLocal, " registry ": PolicyRegistry,
	} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParsePolicyErrorListsValidValues(t *testing.T) {
	_, err := ParsePolicy("sometimes")
	if err == nil {
		t.Fatal("ParsePolicy(sometimes) succeeded")
	}
	for _, want := range []string{`"sometimes"`, "registry", "local", "disabled"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestPolicyOfReadsPodmanLabel(t *testing.T) {
	svc := &model.Service{Project: "p", Name: "s", Labels: map[string]string{"io.containers.autoupdate": "local"}}
	if p, err := PolicyOf(svc); err != nil || p != PolicyLocal {
		t.Errorf("PolicyOf = %q, %v; want local", p, err)
	}
	if p, err := PolicyOf(&model.Service{Project: "p", Name: "s"}); err != nil || p != PolicyDisabled {
		t.Errorf("PolicyOf without labels = %q, %v; want disabled", p, err)
	}
	svc.Labels[Label] = "bogus"
	if _, err := PolicyOf(svc); err == nil || !strings.Contains(err.Error(), "p/s") || !strings.Contains(err.Error(), Label) {
		t.Errorf("PolicyOf with a bad label: %v; want service and label named", err)
	}
}

func TestPolicyOfPrefersXBerth(t *testing.T) {
	svc := &model.Service{Project: "p", Name: "s", AutoUpdate: "registry",
		Labels: map[string]string{Label: "disabled"}}
	if p, err := PolicyOf(svc); err != nil || p != PolicyRegistry {
		t.Errorf("PolicyOf = %q, %v; want x-berth's registry over the label", p, err)
	}
	svc.AutoUpdate = "nightly"
	if _, err := PolicyOf(svc); err == nil || !strings.Contains(err.Error(), "x-berth") {
		t.Errorf("bad x-berth value: %v; want the error to say x-berth", err)
	}
}
