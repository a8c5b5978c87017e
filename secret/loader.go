package secret

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/clauderon/clauderon"
)

// Loader reads the secret of every rule. The zero value reads the process
// environment and only absolute file: paths; set Home to resolve relative
// ones under Home/secrets.
type Loader struct {
	// Home is $CLAUDERON_HOME.
	Home string
	// LookupEnv reads a variable; nil means os.LookupEnv. Tests and the
	// `clauderon proxy` command's environment handling set it.
	LookupEnv func(string) (string, bool)
	// UserRules come from config.toml. They take priority over the
	// built-in rules, so a user rule for a built-in host overrides it.
	UserRules []clauderon.Rule
	// CommandTimeout bounds each cmd: source; 0 means DefaultCommandTimeout.
	CommandTimeout time.Duration
}

// Status is what Load found for one rule, safe to show: the value only
// masked, errors without the value.
type Status struct {
	Rule    string `json:"rule"`
	Builtin bool   `json:"builtin"`
	// Source is the alternative that supplied the value (for example
	// "env:CLAUDE_CODE_OAUTH_TOKEN"), or the one that failed; "" when no
	// alternative had a value.
	Source string `json:"source,omitempty"`
	// Masked is Secret.Masked of the value: "(not set)" when absent.
	Masked string `json:"masked"`
	// Warning flags a value that is set but looks wrong for the rule.
	Warning string `json:"warning,omitempty"`
	// Err is why the value could not be read.
	Err error `json:"-"`
}

// Set reports whether the rule has a value.
func (s Status) Set() bool { return s.Err == nil && s.Source != "" }

// String is one line for `clauderon secrets` style output.
func (s Status) String() string {
	var b strings.Builder
	b.WriteString(s.Rule)
	b.WriteString(": ")
	switch {
	case s.Err != nil:
		b.WriteString("error: ")
		b.WriteString(s.Err.Error())
	case s.Source == "":
		b.WriteString("not set")
	default:
		b.WriteString(s.Masked + " from " + s.Source)
	}
	if s.Warning != "" {
		b.WriteString(" (warning: " + s.Warning + ")")
	}
	return b.String()
}

// Load reads every rule's secret, user rules first, and returns the
// resulting set and one Status per rule in the same order.
//
// A built-in rule without a value is simply absent from the set. A user
// rule without a value, any rule whose source fails (a command exiting
// non-zero, a secret file others can read) and a value that cannot go into
// a header are errors: Load then returns a *clauderon.Error naming each
// failing rule, along with the statuses, and no set, so that the daemon
// refuses to start with a broken configuration rather than run without a
// credential the user configured.
func (l *Loader) Load(ctx context.Context) (*clauderon.CredentialSet, []Status, error) {
	r := &reader{home: l.Home, lookupEnv: l.LookupEnv, timeout: l.CommandTimeout}
	if r.lookupEnv == nil {
		r.lookupEnv = os.LookupEnv
	}
	if r.timeout <= 0 {
		r.timeout = DefaultCommandTimeout
	}

	type result struct {
		v   clauderon.Secret
		alt string
		err error
	}
	// Rules sharing a source (github-api and github-git) read it once: a
	// cmd: source runs once per load, and both rules see the same value.
	cache := map[string]result{}

	var (
		creds    []clauderon.Credential
		statuses []Status
		problems []string
	)
	add := func(rule clauderon.Rule, builtin bool) {
		st := Status{Rule: rule.Name, Builtin: builtin}
		res, ok := cache[rule.Source]
		if !ok {
			res.v, res.alt, res.err = r.read(ctx, rule.Source)
			cache[rule.Source] = res
		}
		st.Source, st.Masked, st.Err = res.alt, res.v.Masked(), res.err
		if st.Err == nil && res.v.IsZero() && !builtin {
			st.Err = clauderon.Errorf(clauderon.EINVALID,
				"no value: none of %s is set (set one, or remove the rule from config.toml)", rule.Source)
		}
		if st.Err == nil && !res.v.IsZero() {
			st.Err = checkHeaderSafe(res.v)
			st.Warning = kindWarning(rule, res.v)
		}
		if st.Err != nil {
			st.Masked = clauderon.Secret{}.Masked()
			problems = append(problems, fmt.Sprintf("rule %q: %v", rule.Name, st.Err))
		} else {
			creds = append(creds, clauderon.Credential{Rule: rule, Secret: res.v})
		}
		statuses = append(statuses, st)
	}
	for _, rule := range l.UserRules {
		add(rule, false)
	}
	for _, rule := range BuiltinRules() {
		add(rule, true)
	}
	if err := ctx.Err(); err != nil {
		return nil, statuses, err
	}
	if len(problems) > 0 {
		return nil, statuses, clauderon.Errorf(clauderon.EINVALID, "secrets: %s", strings.Join(problems, "; "))
	}
	return clauderon.NewCredentialSet(creds), statuses, nil
}

// checkHeaderSafe refuses values with control characters: they cannot go
// into an HTTP header, and a line break there would be header injection.
func checkHeaderSafe(v clauderon.Secret) error {
	for _, c := range []byte(v.Reveal()) {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return clauderon.Errorf(clauderon.EINVALID,
				"the value contains a line break or control character, which cannot go into an HTTP header: store the credential on one line")
		}
	}
	return nil
}

// kindWarning notices a credential of the wrong kind by its well-known
// prefix, the usual mistake being an Anthropic API key in the OAuth
// variable. It names the variable to use and never echoes the value.
func kindWarning(rule clauderon.Rule, v clauderon.Secret) string {
	s := v.Reveal()
	switch {
	case rule.Placeholder != "" && s == rule.Placeholder:
		return "the value is clauderon's placeholder, not a real credential"
	case rule.Name == RuleAnthropicOAuth && strings.HasPrefix(s, "sk-ant-api"):
		return "looks like an API key; set ANTHROPIC_API_KEY instead"
	case rule.Name == RuleAnthropicAPIKey && strings.HasPrefix(s, "sk-ant-oat"):
		return "looks like an OAuth token; set CLAUDE_CODE_OAUTH_TOKEN instead"
	}
	return ""
}
