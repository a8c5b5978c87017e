package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

// canaryMark is the part of every test secret that must never show up in an
// error, a status or any other text this package produces. Masked may show
// a kind prefix (like "sk-ant-oat01"), so the mark follows one.
const canaryMark = "CANARY7Hq2xZpW"

func canary(prefix string) string {
	return prefix + canaryMark + "-0123456789abcdefghijklmnopqrstuvwxyz"
}

// env is a LookupEnv backed by a map that tests may change between loads.
type env struct {
	mu sync.Mutex
	m  map[string]string
}

func newEnv(kv ...string) *env {
	e := &env{m: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.m[kv[i]] = kv[i+1]
	}
	return e
}

func (e *env) set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v == "" {
		delete(e.m, k)
		return
	}
	e.m[k] = v
}

func (e *env) lookup(k string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[k]
	return v, ok
}

// MustHome returns a temporary clauderon home with a secrets directory.
func MustHome(tb testing.TB) string {
	tb.Helper()
	home := tb.TempDir()
	if err := os.Mkdir(filepath.Join(home, secretsDir), 0o700); err != nil {
		tb.Fatal(err)
	}
	return home
}

func writeSecret(tb testing.TB, path, value string, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(value), mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		tb.Fatal(err)
	}
}

func newReader(home string, e *env) *reader {
	return &reader{home: home, lookupEnv: e.lookup, timeout: DefaultCommandTimeout}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		in   string
		want string // alternatives joined by " ; ", or "ERR" for an error
	}{
		{"env:A", "env:A"},
		{"env:OPENAI_API_KEY|env:CODEX_API_KEY|file:OPENAI_API_KEY", "env:OPENAI_API_KEY ; env:CODEX_API_KEY ; file:OPENAI_API_KEY"},
		{" env:A | file:/etc/x ", "env:A ; file:/etc/x"},
		{"file:~/tok", "file:~/tok"},
		{"env:A|cmd:pass show x | head -1", "env:A ; cmd:pass show x | head -1"},
		{"cmd:op read op://vault/item/field", "cmd:op read op://vault/item/field"},
		{"", "ERR"},
		{"   ", "ERR"},
		{"A", "ERR"},
		{"env:", "ERR"},
		{"env:A|", "ERR"},
		{"env:A||env:B", "ERR"},
		{"vault:x", "ERR"},
		{"env:1BAD", "ERR"},
		{"env:A B", "ERR"},
		{"cmd:", "ERR"},
	}
	for _, tt := range tests {
		alts, err := ParseSource(tt.in)
		got := "ERR"
		if err == nil {
			var parts []string
			for _, a := range alts {
				parts = append(parts, a.String())
			}
			got = strings.Join(parts, " ; ")
		} else if clauderon.ErrorCode(err) != clauderon.EINVALID {
			t.Errorf("ParseSource(%q) error %v is not EINVALID", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("ParseSource(%q) = %q (err %v), want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestEnvSource(t *testing.T) {
	r := newReader("", newEnv("TOKEN", "  abc  ", "EMPTY", ""))
	v, alt, err := r.read(context.Background(), "env:EMPTY|env:TOKEN")
	if err != nil || v.Reveal() != "abc" || alt != "env:TOKEN" {
		t.Fatalf("got %q from %q, %v; want abc (trimmed) from env:TOKEN", v.Reveal(), alt, err)
	}
	v, alt, err = r.read(context.Background(), "env:NOPE")
	if err != nil || !v.IsZero() || alt != "" {
		t.Fatalf("unset variable: got %q from %q, %v; want nothing", v.Reveal(), alt, err)
	}
}

func TestFileSource(t *testing.T) {
	home := MustHome(t)
	rel := filepath.Join(home, secretsDir, "TOKEN")
	writeSecret(t, rel, "from-relative\n", 0o600)
	abs := filepath.Join(t.TempDir(), "abs-token")
	writeSecret(t, abs, "from-absolute", 0o400)
	r := newReader(home, newEnv())

	for src, want := range map[string]string{"file:TOKEN": "from-relative", "file:" + abs: "from-absolute"} {
		v, alt, err := r.read(context.Background(), src)
		if err != nil || v.Reveal() != want || alt != src {
			t.Errorf("%s: got %q from %q, %v; want %q", src, v.Reveal(), alt, err, want)
		}
	}
	v, _, err := r.read(context.Background(), "file:MISSING")
	if err != nil || !v.IsZero() {
		t.Errorf("missing file: got %q, %v; want no value and no error", v.Reveal(), err)
	}
	if _, _, err := newReader("", newEnv()).read(context.Background(), "file:TOKEN"); err == nil {
		t.Error("relative file: without a home was accepted")
	}
}

func TestInsecureFileRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			home := MustHome(t)
			p := filepath.Join(home, secretsDir, "TOKEN")
			writeSecret(t, p, canary("tok-"), mode)
			v, _, err := newReader(home, newEnv()).read(context.Background(), "file:TOKEN")
			if err == nil {
				t.Fatalf("mode %04o accepted", mode)
			}
			if !v.IsZero() {
				t.Error("a value came back with the error")
			}
			msg := err.Error()
			if !strings.Contains(msg, "chmod 600 "+p) || clauderon.ErrorCode(err) != clauderon.EINVALID {
				t.Errorf("error %q does not say `chmod 600 %s`", msg, p)
			}
			if strings.Contains(msg, canaryMark) {
				t.Errorf("error leaks the secret: %q", msg)
			}
			must(t, os.Chmod(p, 0o600))
			if v, _, err := newReader(home, newEnv()).read(context.Background(), "file:TOKEN"); err != nil || v.Reveal() != canary("tok-") {
				t.Errorf("after chmod 600: %v", err)
			}
		})
	}
	// The secret file must be a file.
	home := MustHome(t)
	must(t, os.Mkdir(filepath.Join(home, secretsDir, "DIR"), 0o700))
	if _, _, err := newReader(home, newEnv()).read(context.Background(), "file:DIR"); err == nil {
		t.Error("a directory was accepted as a secret file")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCmdSource(t *testing.T) {
	r := newReader("", newEnv())
	ctx := context.Background()
	v, alt, err := r.read(ctx, "cmd:printf '  tok-123 \\n'")
	if err != nil || v.Reveal() != "tok-123" || alt != "cmd:printf '  tok-123 \\n'" {
		t.Fatalf("got %q from %q, %v", v.Reveal(), alt, err)
	}
	v, _, err = r.read(ctx, "cmd:echo abc | tr a-c x-z")
	if err != nil || v.Reveal() != "xyz" {
		t.Fatalf("pipeline: got %q, %v", v.Reveal(), err)
	}
	v, _, err = r.read(ctx, "env:NOPE|cmd:true")
	if err != nil || !v.IsZero() {
		t.Fatalf("command printing nothing: got %q, %v", v.Reveal(), err)
	}
}

// secretFile holds value in a 0600 file and returns its path, for commands
// that print a secret (a source string is configuration, not a secret, so the
// value must not be written into the command itself).
func secretFile(tb testing.TB, value string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "value")
	writeSecret(tb, p, value, 0o600)
	return p
}

func TestCmdFailureDoesNotLeakOutput(t *testing.T) {
	f := secretFile(t, canary("sk-"))
	r := newReader("", newEnv())
	_, alt, err := r.read(context.Background(), "cmd:cat "+f+"; cat "+f+" >&2; exit 3")
	if err == nil {
		t.Fatal("failing command accepted")
	}
	if !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("error %q does not give the exit status", err)
	}
	if strings.Contains(err.Error(), canaryMark) {
		t.Errorf("error leaks the command's output: %q", err)
	}
	if !strings.HasPrefix(alt, "cmd:") {
		t.Errorf("failing alternative reported as %q", alt)
	}
}

func TestCmdTimeout(t *testing.T) {
	r := newReader("", newEnv())
	r.timeout = 200 * time.Millisecond
	// The child sleep keeps stdout open: only killing the process group
	// (or WaitDelay) lets the read return.
	_, _, err := r.read(context.Background(), "cmd:echo partial; sleep 60")
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("error = %v, want a timeout", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := newReader("", newEnv()).read(ctx, "cmd:echo x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestAlternativesInOrder(t *testing.T) {
	home := MustHome(t)
	writeSecret(t, filepath.Join(home, secretsDir, "F"), "from-file", 0o600)
	writeSecret(t, filepath.Join(home, secretsDir, "OPEN"), "open", 0o644)
	marker := filepath.Join(t.TempDir(), "ran")
	tests := []struct {
		env      []string
		source   string
		want     string
		wantFrom string
		wantErr  string
	}{
		{[]string{"A", "a", "B", "b"}, "env:A|env:B|file:F", "a", "env:A", ""},
		{[]string{"B", "b"}, "env:A|env:B|file:F", "b", "env:B", ""},
		{[]string{"A", "  ", "B", "b"}, "env:A|env:B", "b", "env:B", ""}, // blank counts as absent
		{nil, "env:A|env:B|file:F", "from-file", "file:F", ""},
		{nil, "env:A|file:NOPE|cmd:echo last", "last", "cmd:echo last", ""},
		{nil, "env:A|file:NOPE", "", "", ""},
		// A failing alternative stops the search: no quiet fallback.
		{[]string{"B", "b"}, "file:OPEN|env:B", "", "file:OPEN", "chmod 600"},
		// A later alternative is not even tried once one has a value.
		{[]string{"A", "a"}, "env:A|cmd:touch " + marker, "a", "env:A", ""},
	}
	for _, tt := range tests {
		v, from, err := newReader(home, newEnv(tt.env...)).read(context.Background(), tt.source)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tt.source, err, tt.wantErr)
			}
		} else if err != nil {
			t.Errorf("%s: %v", tt.source, err)
		}
		if v.Reveal() != tt.want || from != tt.wantFrom {
			t.Errorf("%s with env %v: got %q from %q, want %q from %q", tt.source, tt.env, v.Reveal(), from, tt.want, tt.wantFrom)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a cmd: alternative ran although an earlier one had a value")
	}
}

func lookup(t *testing.T, set *clauderon.CredentialSet, host string) clauderon.Credential {
	t.Helper()
	c, ok := set.Lookup(host)
	if !ok {
		t.Fatalf("no credential for %s", host)
	}
	return c
}

func TestBuiltinRules(t *testing.T) {
	rules := BuiltinRules()
	names := []string{RuleAnthropicOAuth, RuleAnthropicAPIKey, RuleOpenAI, RuleGemini, RuleGitHubAPI, RuleGitHubGit}
	if len(rules) != len(names) {
		t.Fatalf("%d built-in rules, want %d", len(rules), len(names))
	}
	for i, r := range rules {
		if r.Name != names[i] {
			t.Errorf("rule %d is %s, want %s", i, r.Name, names[i])
		}
		if err := clauderon.ValidateTemplate(r.Template); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
		if _, err := ParseSource(r.Source); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
		for _, h := range r.Hosts {
			if _, err := clauderon.ParseHostPattern(string(h)); err != nil {
				t.Errorf("%s: %v", r.Name, err)
			}
		}
	}
	rules[0].Name = "changed"
	if BuiltinRules()[0].Name != RuleAnthropicOAuth {
		t.Error("BuiltinRules shares its slice with callers")
	}
}

func TestLoadBuiltins(t *testing.T) {
	oauth, apiKey := canary("sk-ant-oat01-"), canary("sk-ant-api03-")
	tests := []struct {
		name       string
		env        []string
		wantRule   string
		wantHeader string
		wantValue  string
	}{
		{"oauth beats api key", []string{"CLAUDE_CODE_OAUTH_TOKEN", oauth, "ANTHROPIC_API_KEY", apiKey}, RuleAnthropicOAuth, "Authorization", "Bearer " + oauth},
		{"api key alone", []string{"ANTHROPIC_API_KEY", apiKey}, RuleAnthropicAPIKey, "X-Api-Key", apiKey},
		{"oauth alone", []string{"CLAUDE_CODE_OAUTH_TOKEN", oauth}, RuleAnthropicOAuth, "Authorization", "Bearer " + oauth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &Loader{Home: MustHome(t), LookupEnv: newEnv(tt.env...).lookup}
			set, _, err := l.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c := lookup(t, set, "api.anthropic.com")
			if c.Rule.Name != tt.wantRule || c.Rule.Header != tt.wantHeader || c.HeaderValue() != tt.wantValue {
				t.Fatalf("got rule %s header %s", c.Rule.Name, c.Rule.Header)
			}
			if _, ok := set.Lookup("api.openai.com"); ok {
				t.Error("openai credential without a value")
			}
		})
	}

	// Codex's variable is a fallback for OpenAI; GitHub's token also serves git.
	l := &Loader{Home: MustHome(t), LookupEnv: newEnv("CODEX_API_KEY", "sk-codex", "GH_TOKEN", "ghtok").lookup}
	set, statuses, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := lookup(t, set, "api.openai.com"); c.HeaderValue() != "Bearer sk-codex" {
		t.Errorf("openai header %q", c.HeaderValue())
	}
	if c := lookup(t, set, "github.com"); c.Rule.Name != RuleGitHubGit || c.HeaderValue() != "Basic eC1hY2Nlc3MtdG9rZW46Z2h0b2s=" {
		t.Errorf("github.com: rule %s header %q", c.Rule.Name, c.HeaderValue())
	}
	if c := lookup(t, set, "api.github.com"); c.Rule.Name != RuleGitHubAPI {
		t.Errorf("api.github.com: rule %s", c.Rule.Name)
	}
	for _, st := range statuses {
		switch st.Rule {
		case RuleOpenAI:
			if st.Source != "env:CODEX_API_KEY" || !st.Set() {
				t.Errorf("openai status %v", st)
			}
		case RuleGemini:
			if st.Set() || st.Err != nil || st.Masked != "(not set)" || st.String() != "gemini: not set" {
				t.Errorf("gemini status %v", st)
			}
		}
	}
}

func TestUserRuleOverridesBuiltin(t *testing.T) {
	user := clauderon.Rule{
		Name: "corp-openai", Hosts: []clauderon.HostPattern{"api.openai.com"},
		Header: "Authorization", Template: "Bearer ${secret}", Source: "env:CORP_KEY",
	}
	l := &Loader{Home: MustHome(t), LookupEnv: newEnv("CORP_KEY", "corp", "OPENAI_API_KEY", "builtin").lookup, UserRules: []clauderon.Rule{user}}
	set, statuses, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := lookup(t, set, "api.openai.com"); c.Rule.Name != "corp-openai" || c.HeaderValue() != "Bearer corp" {
		t.Fatalf("got %s", c)
	}
	if statuses[0].Rule != "corp-openai" || statuses[0].Builtin {
		t.Errorf("first status %v, want the user rule", statuses[0])
	}
}

func TestLoadErrors(t *testing.T) {
	secret := canary("sk-")
	f := secretFile(t, secret)
	user := func(name, source string) clauderon.Rule {
		return clauderon.Rule{Name: name, Hosts: []clauderon.HostPattern{"api.example.com"}, Header: "X-Key", Template: "${secret}", Source: source}
	}
	tests := []struct {
		name  string
		rules []clauderon.Rule
		env   []string
		files map[string]os.FileMode // secrets/NAME -> mode, holding the canary
		want  []string
	}{
		{"user rule without value", []clauderon.Rule{user("mine", "env:MISSING")}, nil, nil,
			[]string{`rule "mine"`, "none of env:MISSING is set"}},
		{"user rule command fails", []clauderon.Rule{user("vault", "cmd:cat "+f+"; exit 7")}, nil, nil,
			[]string{`rule "vault"`, "exit status 7"}},
		{"insecure built-in file", nil, nil, map[string]os.FileMode{"GITHUB_TOKEN": 0o644},
			[]string{`rule "github-api"`, `rule "github-git"`, "chmod 600"}},
		{"insecure user file", []clauderon.Rule{user("filed", "file:MINE")}, nil, map[string]os.FileMode{"MINE": 0o666},
			[]string{`rule "filed"`, "chmod 600", "MINE"}},
		{"line break in value", nil, []string{"GEMINI_API_KEY", secret + "\nX-Evil: 1"}, nil,
			[]string{`rule "gemini"`, "line break"}},
		{"bad source syntax", []clauderon.Rule{user("typo", "enV:X")}, nil, nil,
			[]string{`rule "typo"`, "not env:NAME"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := MustHome(t)
			for name, mode := range tt.files {
				writeSecret(t, filepath.Join(home, secretsDir, name), secret, mode)
			}
			l := &Loader{Home: home, LookupEnv: newEnv(tt.env...).lookup, UserRules: tt.rules}
			set, statuses, err := l.Load(context.Background())
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if set != nil {
				t.Error("a set came back with the error")
			}
			if clauderon.ErrorCode(err) != clauderon.EINVALID {
				t.Errorf("error code %s", clauderon.ErrorCode(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			assertNoCanary(t, err, statuses)
		})
	}
}

func TestKindWarnings(t *testing.T) {
	apiKey := canary("sk-ant-api03-")
	l := &Loader{Home: MustHome(t), LookupEnv: newEnv("CLAUDE_CODE_OAUTH_TOKEN", apiKey, "GEMINI_API_KEY", PlaceholderGemini).lookup}
	set, statuses, err := l.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	warned := map[string]string{}
	for _, st := range statuses {
		warned[st.Rule] = st.Warning
	}
	if w := warned[RuleAnthropicOAuth]; w != "looks like an API key; set ANTHROPIC_API_KEY instead" {
		t.Errorf("oauth warning %q", w)
	}
	if w := warned[RuleGemini]; !strings.Contains(w, "placeholder") {
		t.Errorf("gemini warning %q", w)
	}
	if w := warned[RuleOpenAI]; w != "" {
		t.Errorf("openai warning %q for an absent value", w)
	}
	// A warning does not drop the credential: the user decides.
	lookup(t, set, "api.anthropic.com")
	assertNoCanary(t, nil, statuses)
}

// assertNoCanary renders the error and statuses every way a caller might
// and checks that no secret shows.
func assertNoCanary(t *testing.T, err error, statuses []Status) {
	t.Helper()
	var texts []string
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), clauderon.ErrorMessage(err))
	}
	for _, st := range statuses {
		js, _ := json.Marshal(st)
		texts = append(texts, st.String(), fmt.Sprintf("%+v", st), fmt.Sprintf("%#v", st), string(js))
		if st.Err != nil {
			texts = append(texts, st.Err.Error())
		}
	}
	for _, s := range texts {
		if strings.Contains(s, canaryMark) {
			t.Errorf("secret leaked into %q", s)
		}
	}
}

func TestCanaryNeverLeaks(t *testing.T) {
	home := MustHome(t)
	oauth := canary("sk-ant-oat01-")
	writeSecret(t, filepath.Join(home, secretsDir, "GEMINI_API_KEY"), canary("AIza"), 0o600)
	l := &Loader{
		Home:      home,
		LookupEnv: newEnv("CLAUDE_CODE_OAUTH_TOKEN", oauth, "GITHUB_TOKEN", canary("ghp_")).lookup,
		UserRules: []clauderon.Rule{{
			Name: "cmd-rule", Hosts: []clauderon.HostPattern{"*.example.com"}, Header: "X-Key", Template: "${secret}",
			Source: "cmd:cat " + secretFile(t, canary("tok-")),
		}},
	}
	s := NewStore(l)
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, nil, s.Statuses())
	set := s.Current()
	for _, c := range set.All() {
		for _, text := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c)} {
			if strings.Contains(text, canaryMark) {
				t.Errorf("credential renders its secret: %q", text)
			}
		}
	}
	if got := lookup(t, set, "x.example.com").Secret.Reveal(); got != canary("tok-") {
		t.Errorf("cmd rule value %q", got)
	}
	if got := lookup(t, set, "generativelanguage.googleapis.com").Secret.Reveal(); got != canary("AIza") {
		t.Errorf("gemini file value %q", got)
	}
	var names []string
	for _, c := range set.All() {
		names = append(names, c.Rule.Name)
	}
	if got := strings.Join(names, ","); got != "cmd-rule,anthropic-oauth,gemini,github-api,github-git" {
		t.Errorf("credentials %s", got)
	}
}

func TestSharedSourceReadOnce(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "count")
	src := "cmd:echo run >> " + counter + "; echo tok"
	rule := func(name, host string) clauderon.Rule {
		return clauderon.Rule{Name: name, Hosts: []clauderon.HostPattern{clauderon.HostPattern(host)}, Header: "X", Template: "${secret}", Source: src}
	}
	l := &Loader{Home: MustHome(t), LookupEnv: newEnv().lookup, UserRules: []clauderon.Rule{rule("a", "a.test"), rule("b", "b.test")}}
	if _, _, err := l.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "run"); n != 1 {
		t.Fatalf("command ran %d times for one load, want 1", n)
	}
}

func TestStoreReload(t *testing.T) {
	e := newEnv("A_KEY", "a1", "B_KEY", "b1")
	rule := func(name, host, source string) clauderon.Rule {
		return clauderon.Rule{Name: name, Hosts: []clauderon.HostPattern{clauderon.HostPattern(host)}, Header: "X", Template: "${secret}", Source: source}
	}
	s := NewStore(&Loader{Home: MustHome(t), LookupEnv: e.lookup, UserRules: []clauderon.Rule{
		rule("a", "a.test", "env:A_KEY"), rule("b", "b.test", "env:B_KEY"),
	}})
	if s.Current() == nil || len(s.Current().All()) != 0 {
		t.Fatal("a new store must hold an empty, non-nil set")
	}
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := s.Current()

	// Readers during reloads always see a whole generation: a and b agree.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var torn sync.Once
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				set := s.Current()
				a, _ := set.Lookup("a.test")
				b, _ := set.Lookup("b.test")
				if a.Secret.Reveal()[1:] != b.Secret.Reveal()[1:] {
					torn.Do(func() { t.Errorf("torn set: a=%s b=%s", a.Secret.Reveal(), b.Secret.Reveal()) })
				}
			}
		})
	}
	for gen := 2; gen <= 20; gen++ {
		e.set("A_KEY", fmt.Sprintf("a%d", gen))
		e.set("B_KEY", fmt.Sprintf("b%d", gen))
		if err := s.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()

	if got := lookup(t, s.Current(), "a.test").Secret.Reveal(); got != "a20" {
		t.Fatalf("after reloads a = %q", got)
	}
	if got := lookup(t, first, "a.test").Secret.Reveal(); got != "a1" {
		t.Fatalf("an old set changed under its holder: a = %q", got)
	}

	// A failed reload keeps the working set and its statuses.
	good, goodStatuses := s.Current(), s.Statuses()
	e.set("B_KEY", "")
	err := s.Reload(context.Background())
	if err == nil || !strings.Contains(err.Error(), `rule "b"`) {
		t.Fatalf("reload with a missing user secret: %v", err)
	}
	if s.Current() != good {
		t.Fatal("a failed reload replaced the set")
	}
	if fmt.Sprint(s.Statuses()) != fmt.Sprint(goodStatuses) {
		t.Fatal("a failed reload replaced the statuses")
	}
	// Fixing the secret and reloading recovers.
	e.set("B_KEY", "b21")
	if err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, s.Current(), "b.test").Secret.Reveal(); got != "b21" {
		t.Fatalf("b = %q", got)
	}
}
