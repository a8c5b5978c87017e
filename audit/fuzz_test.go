package audit_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clauderon/clauderon/audit"
)

// FuzzRecord checks that whatever text an event carries (it comes partly from
// inside a container), it is written as exactly one line that decodes back to
// the same event, with the query cut from the path.
func FuzzRecord(f *testing.F) {
	f.Add("s", "GET", "api.example.com", "/v1?x=1", "oops")
	f.Add("s\n", "\x00", "h\u2028", "/\n?", "\xff\xfe")
	f.Fuzz(func(t *testing.T, session, method, host, path, errText string) {
		l, p := MustOpen(t, audit.Options{})
		ev := event(session, 1)
		ev.Method, ev.Host, ev.Path, ev.Error = method, host, path, errText
		l.Record(ev)
		lines := fileLines(t, p)
		if len(lines) != 1 {
			t.Fatalf("one event became %d lines", len(lines))
		}
		got := decode(t, lines[0])
		if strings.Contains(got.Path, "?") {
			t.Errorf("query kept: %q", got.Path)
		}
		for _, field := range []string{session, method, host, path, errText} {
			// Each field on its own: two invalid halves can concatenate
			// into valid UTF-8 ("\xc3" + "\xb0" is "ð").
			if !utf8.ValidString(field) {
				return // encoding/json writes U+FFFD for invalid bytes: one decodable line is the contract
			}
		}
		want := ev
		want.Path = audit.StripQuery(path)
		if got != want {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
	})
}
