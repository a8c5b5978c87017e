package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clauderon/clauderon"
)

// referenceEncodeLine is encodeLine as it was before appendEvent: the
// normalisation, then encoding/json. The new encoder must write the same
// bytes for every event, and fail exactly when this fails.
func referenceEncodeLine(buf *bytes.Buffer, ev clauderon.AuditEvent) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	ev.Path = StripQuery(ev.Path)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc.Encode(ev)
}

// checkSameAsReference encodes ev with encodeLine and with
// referenceEncodeLine, into an empty buffer and into one already holding a
// line, and fails unless both write the same bytes, or both fail with the
// same error and write nothing.
func checkSameAsReference(t *testing.T, ev clauderon.AuditEvent) {
	t.Helper()
	for _, prefix := range []string{"", "{\"earlier\":\"line\"}\n"} {
		var got bytes.Buffer
		got.WriteString(prefix)
		before := time.Now()
		gotErr := encodeLine(&got, ev)
		after := time.Now()

		ref := ev
		if ev.Time.IsZero() && gotErr == nil {
			// encodeLine stamped the event with the time it ran: give the
			// reference the same one, and check it is that time.
			var stamped struct {
				TS time.Time `json:"ts"`
			}
			if err := json.Unmarshal(got.Bytes()[len(prefix):], &stamped); err != nil {
				t.Fatalf("line does not decode: %v\n%s", err, got.Bytes())
			}
			if stamped.TS.Before(before.Truncate(0)) || stamped.TS.After(after.Truncate(0)) {
				t.Errorf("zero time stamped %v, want between %v and %v", stamped.TS, before, after)
			}
			ref.Time = stamped.TS
		}
		var want bytes.Buffer
		want.WriteString(prefix)
		wantErr := referenceEncodeLine(&want, ref)

		switch {
		case (gotErr == nil) != (wantErr == nil):
			t.Fatalf("encodeLine error %v, encoding/json error %v, for %#v\n got %q\nwant %q",
				gotErr, wantErr, ev, got.Bytes(), want.Bytes())
		case gotErr != nil:
			if gotErr.Error() != wantErr.Error() {
				t.Fatalf("encodeLine error %q, encoding/json error %q, for %#v", gotErr, wantErr, ev)
			}
			if got.String() != prefix {
				t.Fatalf("encodeLine failed but wrote %q after the prefix", got.Bytes()[len(prefix):])
			}
		case !bytes.Equal(got.Bytes(), want.Bytes()):
			t.Fatalf("encodeLine differs from encoding/json for %#v\n got %q\nwant %q", ev, got.Bytes(), want.Bytes())
		}
	}
}

// checkAppendEvent checks appendEvent on ev as it is, not normalised: where
// it reports ok its line must be encoding/json's, and where encoding/json
// fails it must not report ok. (It may leave to encoding/json events that
// encoding/json accepts: times not in UTC, which encodeLine never passes.)
func checkAppendEvent(t *testing.T, ev clauderon.AuditEvent) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	wantErr := enc.Encode(ev)
	got, ok := appendEvent(nil, &ev)
	switch {
	case ok && wantErr != nil:
		t.Fatalf("appendEvent wrote %q for %#v, which encoding/json refuses: %v", got, ev, wantErr)
	case ok && !bytes.Equal(got, want.Bytes()):
		t.Fatalf("appendEvent differs from encoding/json for %#v\n got %q\nwant %q", ev, got, want.Bytes())
	}
}

// plainEvent is a typical event, every field set.
func plainEvent() clauderon.AuditEvent {
	return clauderon.AuditEvent{
		Time:         time.Date(2026, 11, 28, 20, 0, 0, 123456789, time.UTC),
		Session:      "sess-1",
		Method:       "POST",
		Host:         "api.anthropic.com",
		Path:         "/v1/messages?beta=true",
		Status:       200,
		AuthInjected: true,
		Rule:         "anthropic",
		BytesUp:      1234,
		BytesDown:    56789,
		DurationMS:   812.5,
		Decision:     clauderon.DecisionAllowed,
	}
}

// trickyStrings are strings encoding/json escapes, replaces or deliberately
// leaves alone.
var trickyStrings = []string{
	"",
	`"`, `\`, `\"`, `"quoted" and \back\slashed\`,
	"<script>alert('x')</script> & &amp; >",
	"\n", "\r\n", "\t", "\b", "\f", "\x00", "\x01", "\x1f", "\x7f", " ",
	"a\x00b\x1bc\x0bd\x0ee",
	"\u2028", "\u2029", "x\u2028y\u2029z", "\u2027\u202a",
	"\xff", "\xfe\xff", "\xc3", "\xc3\x28", "\xc3\xa9", "\xe2\x80", "\xe2\x80\xa8\xe2",
	"\xed\xa0\x80",     // a UTF-16 surrogate, not valid UTF-8
	"\xf4\x90\x80\x80", // above U+10FFFF
	"\xc0\xaf",         // overlong '/'
	"\x80", "a\x80b", "é", "→", "😀", "\uFFFD", "\u0085", "\u00a0", "\ufeff",
	"ü\xffü", strings.Repeat("\x00\"\\\u2028\xff", 50),
	strings.Repeat("a", 5000), strings.Repeat("é\n", 3000),
}

// trickyFloats are durations near encoding/json's format boundaries and at
// the ends of float64.
var trickyFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 1.0 / 3, 812.5, -812.5, 123456789.123456789,
	1e-6, math.Nextafter(1e-6, 0), math.Nextafter(1e-6, 1), -1e-6, -math.Nextafter(1e-6, 0),
	1e-7, 1.5e-10, 1e-9, 1e-10, 1e-99, 1e-100, 1e-300,
	1e20, 1e21, math.Nextafter(1e21, 0), math.Nextafter(1e21, 2e21), -1e21, 1e22, 1e100, 1.7e308,
	math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
	2.2250738585072014e-308, 4.9406564584124654e-324, 9007199254740993, 1 << 62,
}

// trickyTimes are times at the edges of what MarshalJSON accepts, in zones
// other than UTC, and with fractions of every length.
func trickyTimes() []time.Time {
	east := time.FixedZone("east", 5*3600+30*60)
	west := time.FixedZone("west", -2*3600)
	return []time.Time{
		{},         // zero: stamped with now
		time.Now(), // with a monotonic reading
		time.Now().In(east),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120000000, east),
		time.Date(2026, 1, 2, 3, 4, 5, 999999999, west),
		time.Date(2026, 1, 2, 3, 4, 5, 1, time.Local),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), // just after zero
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 1, 0, 0, 0, east), // year -1 in UTC: refused
		time.Date(-1, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 0, 0, 0, west), // year 10000 in UTC: refused
		time.Date(10000, 1, 1, 1, 0, 0, 0, east),   // year 9999 in UTC: accepted
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-292277022399, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1<<62, 0),
		time.Unix(-1<<62, 0),
		time.Unix(0, 0),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("far", 25*3600)), // an offset MarshalJSON refuses
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("far", -24*3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("near", 23*3600+59*60)),
	}
}

// TestEncodeLineMatchesEncodingJSON compares encodeLine with encoding/json on
// every tricky value in every field it can go in.
func TestEncodeLineMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	checkSameAsReference(t, clauderon.AuditEvent{}) // every field zero
	checkSameAsReference(t, plainEvent())
	for _, s := range trickyStrings {
		for _, set := range []func(*clauderon.AuditEvent, string){
			func(ev *clauderon.AuditEvent, s string) { ev.Session = s },
			func(ev *clauderon.AuditEvent, s string) { ev.Method = s },
			func(ev *clauderon.AuditEvent, s string) { ev.Host = s },
			func(ev *clauderon.AuditEvent, s string) { ev.Path = s },
			func(ev *clauderon.AuditEvent, s string) { ev.Path = s + "?" + s },
			func(ev *clauderon.AuditEvent, s string) { ev.Path = "/a?" + s },
			func(ev *clauderon.AuditEvent, s string) { ev.Rule = s },
			func(ev *clauderon.AuditEvent, s string) { ev.Decision = s },
			func(ev *clauderon.AuditEvent, s string) { ev.Error = s },
		} {
			ev := plainEvent()
			set(&ev, s)
			checkSameAsReference(t, ev)
		}
	}
	for _, f := range trickyFloats {
		for _, f := range []float64{f, -f} {
			ev := plainEvent()
			ev.DurationMS = f
			checkSameAsReference(t, ev)
		}
	}
	for _, n := range []int64{0, 1, -1, 9, 10, 99, 100, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		ev := plainEvent()
		ev.Status, ev.BytesUp, ev.BytesDown = int(n), n, -n
		ev.AuthInjected = n%2 == 0
		checkSameAsReference(t, ev)
	}
	for _, tm := range trickyTimes() {
		ev := plainEvent()
		ev.Time = tm
		checkSameAsReference(t, ev)
		checkAppendEvent(t, ev)
	}
}

// TestEncodeLineFailsAsEncodingJSON checks the events encoding/json refuses:
// encodeLine must refuse them too, with the same error, writing nothing.
func TestEncodeLineFailsAsEncodingJSON(t *testing.T) {
	t.Parallel()
	refused := []clauderon.AuditEvent{}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Float64frombits(0x7ff8000000000001)} {
		for _, tm := range []time.Time{{}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
			ev := plainEvent()
			ev.DurationMS, ev.Time = f, tm
			refused = append(refused, ev)
		}
	}
	for _, tm := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("west", -2*3600)),
		time.Unix(1<<62, 0),
	} {
		ev := plainEvent()
		ev.Time = tm
		refused = append(refused, ev)
	}
	for _, ev := range refused {
		var ref bytes.Buffer
		if err := referenceEncodeLine(&ref, ev); err == nil {
			t.Fatalf("encoding/json accepted %#v: the test's premise is wrong", ev)
		}
		checkSameAsReference(t, ev)
	}
}

// TestAppendStringEveryRune compares appendString with encoding/json on
// every rune (in blocks of 256 to a string), every single byte, and every
// pair of bytes.
func TestAppendStringEveryRune(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		t.Helper()
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := append(appendString(nil, s), '\n')
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendString(%q)\n got %q\nwant %q", s, got, want.Bytes())
		}
	}
	var block []byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		block = utf8.AppendRune(block, r) // surrogates become U+FFFD, as encoding/json writes them
		if r%256 == 255 {
			check(string(block))
			block = block[:0]
		}
	}
	var two [2]byte
	for i := range 256 {
		check(string(rune(i)))
		check(string([]byte{byte(i)}))
		for j := range 256 {
			two[0], two[1] = byte(i), byte(j)
			check(string(two[:]))
		}
	}
}

// TestEncodeLineAllocations checks that encoding a typical event, or one
// whose strings need escaping, allocates nothing once the buffer has grown.
func TestEncodeLineAllocations(t *testing.T) {
	for _, ev := range []clauderon.AuditEvent{plainEvent(), escapedEvent(), {}} {
		var buf bytes.Buffer
		allocs := testing.AllocsPerRun(100, func() {
			buf.Reset()
			if err := encodeLine(&buf, ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("encodeLine allocates %v times per event, want 0, for %#v", allocs, ev)
		}
	}
}

// escapedEvent is an error event whose message needs escaping.
func escapedEvent() clauderon.AuditEvent {
	ev := plainEvent()
	ev.Decision = clauderon.DecisionError
	ev.Status = 502
	ev.Error = "dial tcp: lookup \"api.anthropic.com\": no such host\n\tretry → failed <&> \\ done"
	return ev
}

// FuzzEncodeLine requires encodeLine to write exactly what encoding/json
// writes, or to fail as it fails, for events built from fuzzed strings,
// numbers and times. The duration is tried both as the fuzzed float64 and
// as the fuzzed bits, which reach NaNs, infinities and subnormals.
func FuzzEncodeLine(f *testing.F) {
	f.Add("s", "GET", "api.example.com", "/v1?x=1", "rule", "allowed", "", 200, true,
		int64(1234), int64(-5), 812.5, math.Float64bits(1e-7), int64(1795000000), int64(123456789), 0)
	f.Add("s\n\"\\", "\x00\x1f\x7f", "h\u2028\u2029", "/\n?\xff", "<&>", "\xc3", "\xff\xfe\xed\xa0\x80",
		-1, false, int64(math.MinInt64), int64(math.MaxInt64), math.Copysign(0, -1),
		math.Float64bits(math.NaN()), int64(253402300799), int64(999999999), -7200)
	f.Add("", "", "", "", "", "", "", 0, false, int64(0), int64(0), 1e21,
		math.Float64bits(math.Inf(-1)), int64(-62135596800), int64(0), 0) // the zero instant
	f.Add("é", "→", "😀", "/a/b", "\ufffd", "x", "\b\f\r\t", 599, true, int64(1), int64(2), 5e-324,
		math.Float64bits(1e-6), int64(-62167219200), int64(1), 19800) // year 0
	f.Fuzz(func(t *testing.T, session, method, host, path, rule, decision, errText string,
		status int, auth bool, up, down int64, dur float64, durBits uint64, sec, nsec int64, offset int) {
		ev := clauderon.AuditEvent{
			Time:         time.Unix(sec, nsec).In(time.FixedZone("", offset)),
			Session:      session,
			Method:       method,
			Host:         host,
			Path:         path,
			Status:       status,
			AuthInjected: auth,
			Rule:         rule,
			BytesUp:      up,
			BytesDown:    down,
			DurationMS:   dur,
			Decision:     decision,
			Error:        errText,
		}
		checkSameAsReference(t, ev)
		checkAppendEvent(t, ev)
		ev.DurationMS = math.Float64frombits(durBits)
		checkSameAsReference(t, ev)
	})
}

// BenchmarkEncodeLine is encodeLine alone, into a reused buffer as Record's
// pooled one, on the event BenchmarkRecord writes.
func BenchmarkEncodeLine(b *testing.B) {
	benchmarkEncodeLine(b, benchEvent())
}

// BenchmarkEncodeLineEscaped is encodeLine on an event whose strings need
// escaping: an error message with quotes, a newline, a tab and non-ASCII text.
func BenchmarkEncodeLineEscaped(b *testing.B) {
	ev := benchEvent()
	ev.Decision = clauderon.DecisionError
	ev.Status = 502
	ev.Error = escapedEvent().Error
	benchmarkEncodeLine(b, ev)
}

func benchmarkEncodeLine(b *testing.B, ev clauderon.AuditEvent) {
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := encodeLine(&buf, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEvent is the event BenchmarkRecord writes: a typical proxied request.
func benchEvent() clauderon.AuditEvent {
	return clauderon.AuditEvent{
		Time:         time.Date(2026, 11, 28, 20, 0, 0, 1, time.UTC),
		Session:      "bench-session",
		Method:       "POST",
		Host:         "api.anthropic.com",
		Path:         "/v1/messages?beta=true",
		Status:       200,
		AuthInjected: true,
		Rule:         "n1",
		BytesUp:      1234,
		BytesDown:    56789,
		DurationMS:   812.5,
		Decision:     clauderon.DecisionAllowed,
	}
}
