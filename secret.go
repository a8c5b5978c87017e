package clauderon

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// redacted is what a Secret prints as, wherever it is printed.
const redacted = "[REDACTED]"

// Secret is a credential value. It is hazardous material: every way Go has of
// turning a value into text (fmt verbs, slog, JSON, text marshalling) yields
// "[REDACTED]", so a Secret that ends up in a log line, an error message or a
// response body by mistake leaks nothing. The value comes out only through
// Reveal, which makes every use easy to find in review.
type Secret struct {
	v string
}

// NewSecret wraps a credential value.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the real value. Call it only where the value goes onto the
// wire towards the host that owns it, or into a comparison.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty (not configured).
func (s Secret) IsZero() bool { return s.v == "" }

// Len is the length of the value, safe to show.
func (s Secret) Len() int { return len(s.v) }

// knownPrefixes name a credential's kind without revealing any of its random
// part; Masked shows one of them, never more.
var knownPrefixes = []string{
	"sk-ant-oat01-", "sk-ant-api03-", "sk-ant-", "sk-proj-", "sk-",
	"github_pat_", "ghp_", "gho_", "ghs_", "ghu_", "AIza",
}

// Masked shows enough to recognise which credential this is without revealing
// any of it: its kind prefix when it has a known one, and its length.
func (s Secret) Masked() string {
	if s.v == "" {
		return "(not set)"
	}
	prefix := ""
	for _, p := range knownPrefixes {
		if strings.HasPrefix(s.v, p) && len(s.v) > 2*len(p) {
			prefix = p
			break
		}
	}
	return prefix + "…(" + strconv.Itoa(len(s.v)) + " chars)"
}

func (s Secret) String() string                { return s.label() }
func (s Secret) GoString() string              { return "clauderon.Secret(" + s.label() + ")" }
func (s Secret) LogValue() slog.Value          { return slog.StringValue(s.label()) }
func (s Secret) MarshalText() ([]byte, error)  { return []byte(s.label()), nil }
func (s Secret) MarshalJSON() ([]byte, error)  { return []byte(strconv.Quote(s.label())), nil }
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.label()) }
func (s Secret) label() string {
	if s.v == "" {
		return ""
	}
	return redacted
}
