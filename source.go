package clauderon

import "strings"

// Secret source kinds: the prefix of each alternative in a source string.
const (
	SourceEnv  = "env"
	SourceFile = "file"
	SourceCmd  = "cmd"
)

// SourceAlternative is one element of a source string: Kind and its argument (a
// variable name, a path, a shell command).
type SourceAlternative struct {
	Kind string
	Arg  string
}

func (a SourceAlternative) String() string { return a.Kind + ":" + a.Arg }

// ParseSecretSource splits a source string such as
// "env:OPENAI_API_KEY|env:CODEX_API_KEY|file:OPENAI_API_KEY" into its
// alternatives. A cmd: alternative takes the rest of the string, pipes
// included, so that "cmd:pass show x | head -1" works; put cmd: last.
func ParseSecretSource(s string) ([]SourceAlternative, error) {
	if strings.TrimSpace(s) == "" {
		return nil, Errorf(EINVALID, "empty secret source: use env:NAME, file:PATH or cmd:COMMAND, alternatives separated by |")
	}
	var out []SourceAlternative
	rest := s
	for rest != "" {
		part := rest
		kind, arg, ok := strings.Cut(strings.TrimSpace(part), ":")
		kind = strings.TrimSpace(kind)
		if ok && kind == SourceCmd {
			rest = ""
		} else if i := strings.IndexByte(rest, '|'); i >= 0 {
			part, rest = rest[:i], rest[i+1:]
			if rest == "" {
				return nil, Errorf(EINVALID, "secret source %q ends with |: remove it or add an alternative", s)
			}
			kind, arg, ok = strings.Cut(strings.TrimSpace(part), ":")
			kind = strings.TrimSpace(kind)
		} else {
			rest = ""
		}
		arg = strings.TrimSpace(arg)
		if !ok || (kind != SourceEnv && kind != SourceFile && kind != SourceCmd) {
			return nil, Errorf(EINVALID,
				"secret source %q: %q is not env:NAME, file:PATH or cmd:COMMAND", s, strings.TrimSpace(part))
		}
		if arg == "" {
			return nil, Errorf(EINVALID, "secret source %q: %s: needs a value after the colon", s, kind)
		}
		if kind == SourceEnv && !ValidEnvName(arg) {
			return nil, Errorf(EINVALID, "secret source %q: %q is not a valid environment variable name", s, arg)
		}
		out = append(out, SourceAlternative{Kind: kind, Arg: arg})
	}
	return out, nil
}

// ValidEnvName reports whether s is a portable environment variable name.
func ValidEnvName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}
