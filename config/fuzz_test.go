package config

import (
	"net"
	"strings"
	"testing"
)

// FuzzLoad parses arbitrary bytes as config.toml. It must never panic, and
// whatever it accepts must be valid, convert to rules, and render as TOML
// that reads back to the same configuration.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte(""))
	f.Add([]byte("connect_ports = [443]\n[[rule]]\nname = \"x\"\nhost = \"a.b\"\nheader = \"X\"\nvalue = \"${secret}\"\nsecret = \"env:A\"\n"))
	f.Add([]byte("[audit]\nmax_files = 1\nmax_files = 2\n"))
	f.Add([]byte("resolve = [\"a.b:443=::1\"]\nallow = [\"*.x.y\"]\n"))
	f.Add([]byte("[web]\ntoken = \"0123456789abcdef\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "config.toml")
		if err != nil {
			if c != nil {
				t.Fatal("config returned with an error")
			}
			if !strings.HasPrefix(err.Error(), "config.toml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		if _, err := c.RuleList(); err != nil {
			t.Fatalf("accepted config has bad rules: %v", err)
		}
		c.Web.Token = ""
		back, err := Parse([]byte(c.TOML()), "shown.toml")
		if err != nil {
			t.Fatalf("rendering does not read back: %v\n%s", err, c.TOML())
		}
		if back.TOML() != c.TOML() {
			t.Fatalf("round trip changed the config:\n%s\nvs\n%s", c.TOML(), back.TOML())
		}
	})
}

// FuzzParseResolve: no panics; an accepted override is canonical (parsing
// its own output gives it back) and both halves are dialable HOST:PORT.
func FuzzParseResolve(f *testing.F) {
	for _, s := range []string{
		"api.anthropic.com:443=127.0.0.1:8443", "a.b:443=::1", "a.b:443=[::1]:1", "[::1]:443=1.2.3.4",
		"a.b:0443=localhost:1", "x=y", "=", "a.b:443=fe80::1%eth0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, addr, err := ParseResolve(s)
		if err != nil {
			return
		}
		for _, a := range []string{hp, addr} {
			if h, p, err := net.SplitHostPort(a); err != nil || h == "" || p == "" {
				t.Fatalf("ParseResolve(%q) gave %q, not HOST:PORT", s, a)
			}
		}
		hp2, addr2, err := ParseResolve(hp + "=" + addr)
		if err != nil || hp2 != hp || addr2 != addr {
			t.Fatalf("ParseResolve(%q) = %q,%q; reparsed: %q,%q,%v", s, hp, addr, hp2, addr2, err)
		}
	})
}
