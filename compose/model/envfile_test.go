package model

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	got, err := ParseEnvFile([]byte(`# comment
export A=1
B = two words # note
C='single # kept'
D="dq \"x\"\nnext"
bare
E=
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "B": "two words", "C": "single # kept", "D": "dq \"x\"\nnext", "E": ""}
	if !maps.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSecretContentNotMarshalled(t *testing.T) {
	var f FileMount
	f.SetSecret([]byte("hunter2"), "")
	s := Service{Project: "p", Name: "a", Files: []FileMount{f}}
	h := s.Hash()
	f2 := f
	f2.SetSecret([]byte("hunter3"), "")
	s2 := Service{Project: "p", Name: "a", Files: []FileMount{f2}}
	if s2.Hash() == h {
		t.Error("a new secret value left the spec hash unchanged")
	}
	b, err := jsonMarshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if contains(b, "hunter2") || contains(b, "aHVudGVyMg") {
		t.Errorf("the spec holds the secret: %s", b)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
