package parley_test

import (
	"encoding/json"
	"strings"
	"testing"

	parley "github.com/parley-chat/parley"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"alice", true},
		{"A-z_0.9@x:y+z=w~", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
		{"", false},
		{"a b", false},
		{"a/b", false},
		{"é", false},
		{"a%20", false},
		// Dot segments, which clients and proxies remove from paths.
		{".", false},
		{"..", false},
		{"...", true},
		{".a", true},
	}
	for _, tt := range tests {
		if got := parley.ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
	if parley.ValidUserID("search") || !parley.ValidID("search") {
		t.Error(`"search" must be a valid conversation id but not a user id`)
	}
}

func TestMessageIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := parley.NewMessageID()
		if !parley.ValidMessageID(id) || seen[id] {
			t.Fatalf("id %q invalid or repeated", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"msg_short", "msg_" + strings.Repeat("-", 22), "abc_" + strings.Repeat("a", 22)} {
		if parley.ValidMessageID(bad) {
			t.Errorf("ValidMessageID(%q) = true", bad)
		}
	}
}

func TestOptional(t *testing.T) {
	var p parley.UserPatch
	if err := json.Unmarshal([]byte(`{"name":"A","role":null}`), &p); err != nil {
		t.Fatal(err)
	}
	if !p.Name.Set || p.Name.Null || p.Name.Value != "A" {
		t.Errorf("name = %+v", p.Name)
	}
	if !p.Role.Set || !p.Role.Null {
		t.Errorf("role = %+v, want set and null", p.Role)
	}
	if p.Email.Set {
		t.Errorf("email = %+v, want absent", p.Email)
	}
}

func TestCustomValidate(t *testing.T) {
	many := parley.Custom{}
	for i := 0; i < 51; i++ {
		many[strings.Repeat("k", i+1)] = "v"
	}
	tests := []struct {
		name string
		c    parley.Custom
		ok   bool
	}{
		{"nil", nil, true},
		{"limits", parley.Custom{strings.Repeat("k", 64): strings.Repeat("v", 1024)}, true},
		{"long key", parley.Custom{strings.Repeat("k", 65): "v"}, false},
		{"empty key", parley.Custom{"": "v"}, false},
		{"long value (bytes)", parley.Custom{"k": strings.Repeat("é", 513)}, false},
		{"51 keys", many, false},
	}
	for _, tt := range tests {
		if err := tt.c.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
	var c parley.Custom
	if err := json.Unmarshal([]byte(`{"a":null}`), &c); err == nil {
		t.Error("null custom value accepted")
	}
}

func TestSettingsPatch(t *testing.T) {
	var p parley.SettingsPatch
	if err := json.Unmarshal([]byte(`{"userList":{"searchMinChars":2},"roles":{"mod":["users.list","users.list"]}}`), &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	s := parley.DefaultSettings()
	s.UserList.PageSize = 50
	got := p.Apply(s)
	if got.UserList.PageSize != 20 || got.UserList.SearchMinChars != 2 {
		t.Errorf("a sent userList replaces the stored one: %+v", got.UserList)
	}
	if len(got.Roles["mod"]) != 1 || !got.BrowserUserSync {
		t.Errorf("applied = %+v", got)
	}
}

// TestRandomBase62Uniform: every character comes up about as often as the
// others (2,000 expected each; a bias of 25% is more than 10 standard
// deviations away).
func TestRandomBase62Uniform(t *testing.T) {
	counts := map[rune]int{}
	for i := 0; i < 62*2000/50; i++ {
		for _, r := range parley.RandomBase62(50) {
			counts[r]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters, want 62", len(counts))
	}
	for r, n := range counts {
		if n < 1500 || n > 2500 {
			t.Errorf("%q came up %d times, want about 2000", r, n)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	type inner struct {
		Size int `json:"size"`
	}
	type embedded struct {
		Reason string `json:"reason"`
	}
	type body struct {
		embedded
		Name   string                  `json:"name"`
		Inner  parley.Optional[inner]  `json:"inner"`
		Items  []inner                 `json:"items"`
		Custom parley.Custom           `json:"custom"`
		ByID   map[string]*inner       `json:"byId"`
		Skip   string                  `json:"-"`
		Opt    parley.Optional[string] `json:"opt"`
	}
	tests := []struct {
		raw  string
		want bool // accepted
	}{
		{`{"name":"a","reason":"r","inner":{"size":1},"items":[{"size":2}],"custom":{"K":"v","k":"w"},"byId":{"X":{"size":3}}}`, true},
		{`{"unknown":1}`, true}, // the decoder refuses unknown fields, or not
		{`{"name":"a","name":"b"}`, false},
		{`{"NAME":"a"}`, false},
		{`{"Reason":"r"}`, false},
		{`{"inner":{"Size":1}}`, false},
		{`{"items":[{"size":1},{"SIZE":2}]}`, false},
		{`{"custom":{"k":"1","k":"2"}}`, false},
		{`{"byId":{"x":{"size":1,"size":2}}}`, false},
		{`{"byId":{"x":{},"x":{}}}`, false},
		{`{"Skip":"x"}`, true}, // not a field name of the body at all
		{`{"name":`, true},     // syntax is the decoder's to refuse
		{`[{"a":1,"a":2}]`, false},
	}
	for _, tt := range tests {
		if err := parley.CheckJSON([]byte(tt.raw), &body{}); (err == nil) != tt.want {
			t.Errorf("CheckJSON(%s) = %v, want accepted %v", tt.raw, err, tt.want)
		}
	}
}

// TestCheckJSONDepth: deep nesting is refused before it costs stack.
func TestCheckJSONDepth(t *testing.T) {
	type body struct {
		Custom parley.Custom `json:"custom"`
	}
	deep := strings.Repeat("[", 1<<20)
	if err := parley.CheckJSON([]byte(deep), &body{}); err == nil {
		t.Error("a megabyte of [ was accepted")
	}
	fine := strings.Repeat("[", parley.MaxJSONDepth) + strings.Repeat("]", parley.MaxJSONDepth)
	if err := parley.CheckJSON([]byte(fine), &body{}); err != nil {
		t.Errorf("%d levels: %v", parley.MaxJSONDepth, err)
	}
}
