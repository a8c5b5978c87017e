package clauderon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const canary = "sk-ant-oat01-CANARY-c4n4ry-never-print-me"

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(canary)
	type wrapper struct {
		Token Secret
		Ptr   *Secret
	}
	w := wrapper{Token: s, Ptr: &s}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		fmt.Fprintf(&out, verb+"\n", s)
		fmt.Fprintf(&out, verb+"\n", w)
	}
	j, _ := json.Marshal(w)
	out.Write(j)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "secret", s, "w", w)
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "secret", s)
	out.WriteString(fmt.Sprint(Errorf(EINVALID, "bad %v", s)))
	out.WriteString(s.Masked())
	if strings.Contains(out.String(), "CANARY") || strings.Contains(out.String(), "c4n4ry") {
		t.Fatalf("secret leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Fatalf("no redaction marker:\n%s", out.String())
	}
	if s.Reveal() != canary {
		t.Fatal("Reveal lost the value")
	}
	if got := s.Masked(); got != "sk-ant-oat01-…(41 chars)" {
		t.Fatalf("Masked = %q", got)
	}
	if NewSecret("").String() != "" || !NewSecret("").IsZero() {
		t.Fatal("empty secret")
	}
}

func TestErrorHelpers(t *testing.T) {
	e := Errorf(ENOTFOUND, "no session named %q", "x")
	wrapped := fmt.Errorf("context: %w", e)
	if ErrorCode(wrapped) != ENOTFOUND || ErrorMessage(wrapped) != `no session named "x"` {
		t.Fatalf("%q %q", ErrorCode(wrapped), ErrorMessage(wrapped))
	}
	plain := fmt.Errorf("dial unix /secret/path: refused")
	if ErrorCode(plain) != EINTERNAL || ErrorMessage(plain) != "internal error" {
		t.Fatal("internal detail leaked through ErrorMessage")
	}
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Fatal("nil error")
	}
}
