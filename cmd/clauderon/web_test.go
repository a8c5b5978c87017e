package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/config"
	"github.com/clauderon/clauderon/webui"
)

// TestDaemonRefusesOffLoopbackWithoutToken runs the daemon itself: it must
// stop before starting anything when the web UI would listen beyond loopback
// with no login token.
func TestDaemonRefusesOffLoopbackWithoutToken(t *testing.T) {
	home := t.TempDir()
	m := &Main{Home: home, Logger: slog.New(slog.DiscardHandler)}
	m.Flags.listen = "127.0.0.1:0"
	m.Web.listen = "0.0.0.0:0"
	err := m.Run(context.Background())
	if clauderon.ErrorCode(err) != clauderon.EINVALID || !strings.Contains(err.Error(), "clauderon web token") {
		t.Fatalf("Run = %v, want EINVALID saying to run `clauderon web token`", err)
	}
	if _, err := os.Stat(filepath.Join(home, "clauderon.sock")); err == nil {
		t.Fatal("the daemon opened its socket before refusing")
	}
}

func TestPrepareWeb(t *testing.T) {
	home := t.TempDir()
	cfg := config.Default()
	tests := []struct {
		name, listen, cfgToken string
		fileToken              bool
		wantErr                string
		wantAddr               string
		wantLogin              bool
	}{
		{name: "default loopback", wantAddr: config.DefaultHTTPListen},
		{name: "disabled", listen: "0"},
		{name: "bad address", listen: "nonsense", wantErr: "HOST:PORT"},
		{name: "off loopback, no token", listen: "0.0.0.0:3030", wantErr: "clauderon web token"},
		{name: "off loopback, config token", listen: "0.0.0.0:3030", cfgToken: "configured-token-0123", wantAddr: "0.0.0.0:3030", wantLogin: true},
		{name: "off loopback, token file", listen: ":3030", fileToken: true, wantAddr: ":3030", wantLogin: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := filepath.Join(home, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.MkdirAll(h, 0o700); err != nil {
				t.Fatal(err)
			}
			if tt.fileToken {
				if _, err := webui.EnsureToken(h, false); err != nil {
					t.Fatal(err)
				}
			}
			c := *cfg
			c.Web.Token = tt.cfgToken
			m := &Main{Home: h}
			m.Web.listen = tt.listen
			w, err := m.prepareWeb(&c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.addr != tt.wantAddr || w.loginRequired != tt.wantLogin {
				t.Fatalf("addr %q login %v, want %q %v", w.addr, w.loginRequired, tt.wantAddr, tt.wantLogin)
			}
		})
	}
}

func TestWebTokenCommand(t *testing.T) {
	home := t.TempDir()
	run := func(args ...string) string {
		var out, errb bytes.Buffer
		root := newRoot(stdio{in: strings.NewReader(""), out: &out, err: &errb})
		root.SetArgs(append([]string{"--home", home}, args...))
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v %s", args, err, errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	a := run("web", "token")
	if len(a) != 64 || run("web", "token") != a {
		t.Fatalf("web token = %q, not stable", a)
	}
	if b := run("web", "token", "--rotate"); b == a || len(b) != 64 {
		t.Fatalf("rotate = %q", b)
	}
}
