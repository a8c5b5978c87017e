package clauderon_test

import (
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func TestParseAllow(t *testing.T) {
	t.Parallel()
	hosts, addrs, err := clauderon.ParseAllow([]string{"PyPI.org", "*.corp.example", "10.1.2.3", "10.1.0.0/16", "fd00::/64", " ::ffff:192.168.1.1 "})
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 2 || hosts[0] != "pypi.org" || len(addrs) != 4 || addrs[0].String() != "10.1.2.3/32" || addrs[3].String() != "192.168.1.1/32" {
		t.Fatalf("hosts %v addrs %v", hosts, addrs)
	}
	for _, bad := range []string{"0.0.0.0/0", "10.0.0.0/7", "::/0", "fe80::1%eth0", "*.com", "a b", "http://x"} {
		if _, _, err := clauderon.ParseAllow([]string{bad}); err == nil {
			t.Errorf("ParseAllow(%q) accepted", bad)
		}
	}
}

// FuzzParseAllow: entries come from create --allow (the API); no panic,
// and whatever is accepted is a lower-case host pattern or a prefix no
// wider than /8 (/16 for IPv6).
func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{"pypi.org", "*.x.y", "10.0.0.0/8", "fd00::1", "::ffff:1.2.3.4", "1.2.3.4/0", "%", "*."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hosts, addrs, err := clauderon.ParseAllow([]string{s})
		if err != nil {
			return
		}
		for _, h := range hosts {
			if string(h) != strings.ToLower(string(h)) {
				t.Fatalf("host %q not lower case", h)
			}
		}
		for _, a := range addrs {
			if min := map[bool]int{true: 8, false: 16}[a.Addr().Is4()]; a.Bits() < min {
				t.Fatalf("prefix %v too wide", a)
			}
		}
	})
}
