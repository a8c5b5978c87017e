package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/clauderon/clauderon"
)

// The audit line encoder.
//
// Why: the proxy records one event per request, and encoding it with
// encoding/json (reflection: Encoder.Encode, reflectValue, structEncoder, and
// an allocation for time.Time's MarshalJSON) was about 3% of the proxy
// process's CPU under 64 concurrent clients. appendEvent writes the same
// bytes by hand, field by field, into Record's pooled buffer, allocating
// nothing once that buffer has grown to a line's size.
//
// What it guarantees: for every event, encodeLine's output is byte-identical
// to what json.NewEncoder(buf) with SetEscapeHTML(false) and Encode wrote for
// the normalised event, and it fails exactly when that failed, with the same
// error. FuzzEncodeLine and TestEncodeLineMatchesEncodingJSON (encode_test.go)
// prove it against encoding/json, kept there as the reference. (That is
// encoding/json as Go builds it by default: under GOEXPERIMENT=jsonv2 it
// writes an invalid byte as a literal U+FFFD rather than \ufffd, and those
// tests fail.) Concretely:
//
//   - the fields of clauderon.AuditEvent in declaration order, named by their
//     json tags (none has omitempty, so every field is always written);
//   - ts as time.Time.MarshalJSON writes it: RFC 3339 with nanoseconds,
//     trailing zeros of the fraction dropped, "Z" for UTC;
//   - duration_ms as encoding/json writes a float64 (see appendFloat);
//   - strings escaped as encoding/json does without HTML escaping (see
//     appendString).
//
// The events encoding/json refuses — a duration that is NaN or infinite, a
// time whose year is outside [0,9999] — are handed to encoding/json itself,
// so that Record fails with the very same error and writes nothing. They
// never come from the proxy, whose durations and times are measured.
//
// A new field in clauderon.AuditEvent must be added to appendEvent (and to
// the tests' events); TestEncodeLineMatchesEncodingJSON fails until it is,
// since every test event is also encoded by encoding/json.

// encodeLine writes ev as one JSON line, ending in '\n', to buf, after
// normalising it: the time is made UTC (now, if it is zero) and any query
// string is cut from Path. On error nothing is written.
func encodeLine(buf *bytes.Buffer, ev clauderon.AuditEvent) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	ev.Path = StripQuery(ev.Path)
	buf.Grow(lineSizeHint(&ev))
	if line, ok := appendEvent(buf.AvailableBuffer(), &ev); ok {
		buf.Write(line) // the same memory when the hint was enough: a copy onto itself
		return nil
	}
	return encodeJSON(buf, ev)
}

// encodeJSON is how encodeLine wrote every event before appendEvent, and how
// it still writes those appendEvent leaves to encoding/json.
func encodeJSON(buf *bytes.Buffer, ev clauderon.AuditEvent) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // paths and errors stay readable: '&' and '<' are not a hazard in a log file
	return enc.Encode(ev)    // Encode ends the line with '\n'
}

// lineSizeHint is the length of ev's line when no string needs escaping and
// the numbers are at their longest, so that one Grow usually suffices.
func lineSizeHint(ev *clauderon.AuditEvent) int {
	const fixed = len(`{"ts":"2006-01-02T15:04:05.999999999Z","session":"","method":"","host":"","path":"",`+
		`"status":-9223372036854775808,"auth_injected":false,"rule":"","bytes_up":-9223372036854775808,`+
		`"bytes_down":-9223372036854775808,"duration_ms":-1.2345678901234567e-308,"decision":"","error":""}`+"\n") + 8
	return fixed + len(ev.Session) + len(ev.Method) + len(ev.Host) + len(ev.Path) +
		len(ev.Rule) + len(ev.Decision) + len(ev.Error)
}

// appendEvent appends ev's line, '\n' included, to b. It reports false, for
// encoding/json to fail on it, if encoding/json would refuse ev; b is then
// to be dropped.
func appendEvent(b []byte, ev *clauderon.AuditEvent) ([]byte, bool) {
	if math.IsNaN(ev.DurationMS) || math.IsInf(ev.DurationMS, 0) {
		return b, false // json.UnsupportedValueError
	}
	b = append(b, `{"ts":"`...)
	n := len(b)
	b = ev.Time.AppendFormat(b, time.RFC3339Nano) // what MarshalJSON writes between its quotes
	// MarshalJSON's own checks (time.Time.appendStrictRFC3339): a year of
	// exactly four digits, and an offset it can write. Normalised events are
	// UTC, so a 'Z' ends every time that passes.
	if len(b)-n < len("0000-") || b[n+len("0000")] != '-' || b[len(b)-1] != 'Z' {
		return b, false
	}
	b = append(b, `","session":`...)
	b = appendString(b, ev.Session)
	b = append(b, `,"method":`...)
	b = appendString(b, ev.Method)
	b = append(b, `,"host":`...)
	b = appendString(b, ev.Host)
	b = append(b, `,"path":`...)
	b = appendString(b, ev.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(ev.Status), 10)
	b = append(b, `,"auth_injected":`...)
	b = strconv.AppendBool(b, ev.AuthInjected)
	b = append(b, `,"rule":`...)
	b = appendString(b, ev.Rule)
	b = append(b, `,"bytes_up":`...)
	b = strconv.AppendInt(b, ev.BytesUp, 10)
	b = append(b, `,"bytes_down":`...)
	b = strconv.AppendInt(b, ev.BytesDown, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendFloat(b, ev.DurationMS)
	b = append(b, `,"decision":`...)
	b = appendString(b, ev.Decision)
	b = append(b, `,"error":`...)
	b = appendString(b, ev.Error)
	b = append(b, "}\n"...)
	return b, true
}

// appendFloat appends f, finite, as encoding/json's floatEncoder writes a
// float64: like ES6's number-to-string, the shortest representation that
// reads back as f, in 'f' format unless 0 < |f| < 1e-6 or |f| >= 1e21, in
// 'e' format with a one-digit negative exponent unpadded ("1e-7", not
// "1e-07"). Negative zero is "-0".
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// hexDigits are encoding/json's: \u escapes are written in lower case.
const hexDigits = "0123456789abcdef"

// appendString appends s quoted as encoding/json writes a string with HTML
// escaping off: '"' and '\\' escaped with a backslash; \b, \f, \n, \r and \t
// as those escapes; other bytes below 0x20 as \u00xx; each byte that is not
// part of valid UTF-8 as \ufffd; U+2028 and U+2029 as \u2028 and \u2029;
// everything else (DEL, '<', '>', '&' included) as it is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	b = append(b, '"')
	return b
}
