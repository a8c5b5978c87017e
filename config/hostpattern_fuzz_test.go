package config

import (
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

// FuzzHostPattern checks clauderon.ParseHostPattern and HostPattern.Match,
// which decide which hosts receive a credential. It lives here because the
// domain package is not ours to edit. Properties: no panics; parsing is
// idempotent; a wildcard never matches its apex; matching ignores ASCII case
// and a trailing dot; an exact pattern matches only itself.
func FuzzHostPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"api.github.com", "api.github.com"}, {"*.example.com", "a.example.com"}, {"*.example.com", "example.com"},
		{"*.x", "x"}, {"*.x", ".x"}, {"API.GitHub.com", "api.github.COM."}, {"*.a.b", "evil-a.b"},
		{"*.example.com", "a.b.example.com"}, {"ex.com", "ex.com.evil"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		p, err := clauderon.ParseHostPattern(pattern)
		if err != nil {
			return
		}
		p2, err := clauderon.ParseHostPattern(string(p))
		if err != nil || p2 != p {
			t.Fatalf("ParseHostPattern not idempotent: %q -> %q -> %q, %v", pattern, p, p2, err)
		}
		if apex, ok := strings.CutPrefix(string(p), "*."); ok {
			for _, h := range []string{apex, strings.ToUpper(apex), apex + ".", "." + apex} {
				if p.Match(h) {
					t.Fatalf("%q matches its apex form %q", p, h)
				}
			}
			if !p.Match("a." + apex) {
				t.Fatalf("%q does not match a.%s", p, apex)
			}
		} else {
			if !p.Match(string(p)) || !p.Match(asciiUpper(string(p))) || !p.Match(string(p)+".") {
				t.Fatalf("exact %q does not match itself in another case or with a trailing dot", p)
			}
			if p.Match("a."+string(p)) || p.Match(string(p)+"a") {
				t.Fatalf("exact %q matches a different host", p)
			}
		}
		m := p.Match(host)
		if asciiUpper(host) != host && p.Match(asciiUpper(host)) != m {
			t.Fatalf("%q: Match(%q)=%v but Match(%q)=%v", p, host, m, asciiUpper(host), !m)
		}
		if m {
			h := strings.ToLower(strings.TrimSuffix(host, "."))
			if suffix, ok := strings.CutPrefix(string(p), "*"); ok {
				if !strings.HasSuffix(h, suffix) || len(h) <= len(suffix) {
					t.Fatalf("%q matched %q outside its suffix", p, host)
				}
			} else if h != string(p) {
				t.Fatalf("exact %q matched %q", p, host)
			}
		}
	})
}

// asciiUpper upper-cases ASCII letters only, as DNS case-insensitivity does.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
