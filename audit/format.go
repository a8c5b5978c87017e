package audit

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/clauderon/clauderon"
)

// timeLayout shows times to the millisecond, in the local zone: the table is
// for a person at a terminal.
const timeLayout = "2006-01-02 15:04:05.000"

// FormatTable writes events as an aligned table for `clauderon audit`, one row
// per event, in the order given. Every text field is made safe for a terminal
// first: hosts and paths come from inside a container, and a control
// character in one must not reach the user's terminal as an escape sequence.
func FormatTable(w io.Writer, events []clauderon.AuditEvent) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSESSION\tDECISION\tMETHOD\tHOST\tPATH\tSTATUS\tINJECTED\tRULE\tBYTES UP/DOWN\tMS\tERROR")
	for _, ev := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\n",
			ev.Time.Local().Format(timeLayout),
			orDash(ev.Session),
			orDash(ev.Decision),
			orDash(ev.Method),
			orDash(ev.Host),
			orDash(StripQuery(ev.Path)),
			status(ev.Status),
			yesNo(ev.AuthInjected),
			orDash(ev.Rule),
			formatBytes(ev.BytesUp), formatBytes(ev.BytesDown),
			formatMS(ev.DurationMS),
			orDash(ev.Error),
		)
	}
	return tw.Flush()
}

// FormatEventLine renders one event on one line (no trailing newline), for
// `clauderon audit --follow`, where a table cannot be aligned in advance.
func FormatEventLine(ev clauderon.AuditEvent) string {
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format(timeLayout))
	for _, s := range []string{
		orDash(ev.Session), orDash(ev.Decision), orDash(ev.Method),
		orDash(ev.Host) + safe(StripQuery(ev.Path)), status(ev.Status),
	} {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	if ev.AuthInjected {
		b.WriteString(" injected")
	}
	if ev.Rule != "" {
		b.WriteString(" rule=" + safe(ev.Rule))
	}
	fmt.Fprintf(&b, " up=%s down=%s %sms", formatBytes(ev.BytesUp), formatBytes(ev.BytesDown), formatMS(ev.DurationMS))
	if ev.Error != "" {
		b.WriteString(" error=" + strconv.Quote(ev.Error))
	}
	return b.String()
}

// safe replaces what a terminal would interpret (escape sequences, carriage
// returns, tabs that would break the table) with Go-style escapes.
func safe(s string) string {
	if strings.IndexFunc(s, notPrintable) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if notPrintable(r) {
			q := strconv.QuoteRune(r) // e.g. '\x1b'
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func notPrintable(r rune) bool { return !unicode.IsPrint(r) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return safe(s)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func status(code int) string {
	if code == 0 {
		return "-" // no HTTP status: a tunnel, or a request that failed before one
	}
	return strconv.Itoa(code)
}

// formatBytes shows a byte count in the largest binary unit that keeps it at
// or above 1, with one decimal: 512, 1.5K, 20.0M.
func formatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	v := float64(n)
	i := -1
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + string(units[i])
}

func formatMS(ms float64) string {
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return strconv.FormatFloat(ms, 'f', 0, 64)
}
