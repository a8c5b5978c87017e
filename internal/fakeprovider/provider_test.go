package fakeprovider_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/clauderon/clauderon/internal/fakeprovider"
)

// client trusts only the provider's CA and dials Addr() for every host, the
// way the proxy does with --resolve, so TLS verifies api.anthropic.com.
func client(t *testing.T, p *fakeprovider.Provider) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.CAPEM()) {
		t.Fatal("CAPEM holds no certificate")
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, p.Addr())
		},
		ForceAttemptHTTP2: true,
	}
	// Runs before the provider's Close, which would otherwise wait for
	// the kept-alive connection.
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func post(t *testing.T, c *http.Client, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", "https://api.anthropic.com/v1/messages?beta=true", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestMessagesJSON(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	resp := post(t, client(t, p), `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hello there"}]}]}`,
		"X-Api-Key", "key-1")
	if resp.StatusCode != 200 {
		t.Fatalf("status %s", resp.Status)
	}
	var m struct {
		Type    string
		Content []struct{ Type, Text string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Type != "message" || len(m.Content) != 1 || m.Content[0].Text != "fake-provider says: hello there" {
		t.Fatalf("answer %+v", m)
	}
	reqs := p.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Host != "api.anthropic.com" || r.SNI != "api.anthropic.com" || r.Path != "/v1/messages" ||
		r.Query != "beta=true" || r.XAPIKey != "key-1" || r.Credential() != "key-1" || !strings.Contains(string(r.Body), "hello there") {
		t.Fatalf("recorded %+v", r)
	}
}

func TestMessagesStream(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{Reply: func(string) string { return "one two three" }})
	resp := post(t, client(t, p), `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer tok")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var events []string
	var text strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events = append(events, ev)
		}
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var e struct {
				Type  string
				Delta struct{ Type, Text string }
				Usage map[string]int
			}
			if err := json.Unmarshal([]byte(d), &e); err != nil {
				t.Fatalf("data %q: %v", d, err)
			}
			if e.Type == "content_block_delta" && e.Delta.Type == "text_delta" {
				text.WriteString(e.Delta.Text)
			}
			if e.Type == "message_delta" && e.Usage["output_tokens"] != 3 {
				t.Errorf("message_delta usage %v", e.Usage)
			}
		}
	}
	want := "message_start content_block_start content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(events, " "); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	if text.String() != "one two three" {
		t.Fatalf("text %q", text.String())
	}
	if got := p.Requests()[0].Credential(); got != "tok" {
		t.Fatalf("credential %q", got)
	}
}

func TestCredentialsEnforced(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{Credentials: []string{"real"}})
	c := client(t, p)
	for _, tc := range []struct {
		name, header, value string
		status              int
	}{
		{"placeholder bearer", "Authorization", "Bearer placeholder", 401},
		{"none", "X-Other", "x", 401},
		{"real bearer", "Authorization", "Bearer real", 200},
		{"real api key", "X-Api-Key", "real", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, c, `{"messages":[{"role":"user","content":"x"}]}`, tc.header, tc.value)
			if resp.StatusCode != tc.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
		})
	}
}

func TestOtherPathsAnswerEmptyObject(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	resp, err := client(t, p).Get("https://api.anthropic.com/api/claude_cli/bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "{}" {
		t.Fatalf("%s %q", resp.Status, b)
	}
	if r := p.Requests(); len(r) != 1 || r[0].Method != "GET" || r[0].Path != "/api/claude_cli/bootstrap" {
		t.Fatalf("recorded %+v", r)
	}
}

// Remote managed settings: none (204), which Claude Code accepts quietly;
// it warns "Remote managed settings failed to load" on {}.
func TestClaudeCodeSettingsNone(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	resp, err := client(t, p).Get("https://api.anthropic.com/api/claude_code/settings")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %s", resp.Status)
	}
}

func TestCertificateNamesProvidersAndExtraHosts(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{Hosts: []string{"fake.test", "10.1.2.3"}})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CAPEM())
	for _, name := range []string{"api.anthropic.com", "api.openai.com", "generativelanguage.googleapis.com", "fake.test", "10.1.2.3", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", p.Addr(), &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		conn.Close()
	}
	if _, err := tls.Dial("tcp", p.Addr(), &tls.Config{RootCAs: pool, ServerName: "example.com"}); err == nil {
		t.Error("certificate verified for example.com")
	}
}

func TestWriteCAFile(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	path, err := p.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if p.Resolve("api.anthropic.com") != "api.anthropic.com:443="+p.Addr() {
		t.Fatalf("Resolve = %q", p.Resolve("api.anthropic.com"))
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(b, p.CAPEM()) {
		t.Fatalf("CA file %s holds %q (%v), want CAPEM", path, b, err)
	}
}
