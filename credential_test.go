package clauderon

import (
	"encoding/base64"
	"testing"
)

func TestHostPattern(t *testing.T) {
	tests := []struct {
		pattern string
		host    string
		want    bool
	}{
		{"api.github.com", "api.github.com", true},
		{"api.github.com", "API.GitHub.com", true},
		{"api.github.com", "api.github.com.", true},
		{"api.github.com", "github.com", false},
		{"api.github.com", "evilapi.github.com", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false}, // never the apex
		{"*.example.com", "badexample.com", false},
		{"key.example.com", "\u212aey.example.com", false}, // Kelvin sign folds to k in Unicode; not here
		{"api.github.com", "api.github.com\x00", false},
	}
	for _, tt := range tests {
		p, err := ParseHostPattern(tt.pattern)
		if err != nil {
			t.Fatalf("ParseHostPattern(%q): %v", tt.pattern, err)
		}
		if got := p.Match(tt.host); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
	for _, bad := range []string{"", "*", "*.", "*.com", "a..b", ".a.com", "a.com:443", "1.2.3.4", "a/b", "\u212aey.example.com", "a b.com", "-a.com", "é.com"} {
		if _, err := ParseHostPattern(bad); ErrorCode(err) != EINVALID {
			t.Errorf("ParseHostPattern(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func TestHeaderValueAndRedactions(t *testing.T) {
	c := Credential{
		Rule:   Rule{Name: "git", Hosts: []HostPattern{"github.com"}, Template: "Basic ${basic:x-access-token}", Placeholder: "ph"},
		Secret: NewSecret("ghp_REALTOKEN"),
	}
	enc := base64.StdEncoding.EncodeToString([]byte("x-access-token:ghp_REALTOKEN"))
	if got := c.HeaderValue(); got != "Basic "+enc {
		t.Fatalf("HeaderValue = %q", got)
	}
	odd := Credential{Rule: Rule{Name: "odd", Template: "Token ${basic:u} v2"}, Secret: NewSecret("s3cret-value")}
	set := NewCredentialSet([]Credential{c, odd, {Rule: Rule{Name: "empty"}}})
	if len(set.All()) != 2 {
		t.Fatalf("empty secret kept: %d", len(set.All()))
	}
	want := map[string]bool{"ghp_REALTOKEN": true, enc: true, "s3cret-value": true,
		base64.StdEncoding.EncodeToString([]byte("u:s3cret-value")): true}
	for _, r := range set.Redactions() {
		if !want[r.Value.Reveal()] {
			t.Errorf("unexpected redaction %q", r.Value.Reveal())
		}
		delete(want, r.Value.Reveal())
	}
	if len(want) != 0 {
		t.Errorf("missing redactions: %v", want)
	}
}

func TestValidateTemplate(t *testing.T) {
	for _, ok := range []string{"Bearer ${secret}", "${secret}", "Basic ${basic:x-access-token}"} {
		if err := ValidateTemplate(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"Bearer", "${nope}", "Bearer ${secret"} {
		if err := ValidateTemplate(bad); ErrorCode(err) != EINVALID {
			t.Errorf("%q: %v, want EINVALID", bad, err)
		}
	}
}

func TestCredentialSetPriority(t *testing.T) {
	hosts := []HostPattern{"api.anthropic.com"}
	set := NewCredentialSet([]Credential{
		{Rule: Rule{Name: "anthropic-oauth", Hosts: hosts}, Secret: NewSecret("oauth")},
		{Rule: Rule{Name: "anthropic-api-key", Hosts: hosts}, Secret: NewSecret("key")},
	})
	if c, ok := set.Lookup("api.anthropic.com"); !ok || c.Rule.Name != "anthropic-oauth" {
		t.Fatalf("Lookup = %v %v; OAuth must win", c.Rule.Name, ok)
	}
	if _, ok := set.Lookup("api.openai.com"); ok {
		t.Fatal("credential for a host without a rule")
	}
	var nilSet *CredentialSet
	if _, ok := nilSet.Lookup("x.com"); ok || nilSet.All() != nil {
		t.Fatal("nil set not empty")
	}
}
