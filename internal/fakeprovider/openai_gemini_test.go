package fakeprovider_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/clauderon/clauderon/internal/fakeprovider"
)

func do(t *testing.T, c *http.Client, method, url, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
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

// sse returns the data lines of a server-sent event stream.
func sse(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(strings.TrimRight(sc.Text(), "\r"), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

const codexBody = `{"model":"gpt-5","stream":true,"input":[
 {"type":"message","role":"developer","content":[{"type":"input_text","text":"be brief"}]},
 {"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>cwd</environment_context>"},{"type":"input_text","text":"hello codex"}]}]}`

func TestResponsesStream(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	resp := do(t, client(t, p), "POST", "https://api.openai.com/v1/responses", codexBody, "Authorization", "Bearer sk-1")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var types []string
	var text strings.Builder
	for _, d := range sse(t, resp.Body) {
		var e struct {
			Type     string
			Delta    string
			Response struct{ ID, Status string }
		}
		if err := json.Unmarshal([]byte(d), &e); err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		types = append(types, e.Type)
		if e.Type == "response.output_text.delta" {
			text.WriteString(e.Delta)
		}
		if e.Type == "response.completed" && (e.Response.ID == "" || e.Response.Status != "completed") {
			t.Errorf("completed event %s", d)
		}
	}
	if types[0] != "response.created" || types[len(types)-1] != "response.completed" {
		t.Fatalf("events %v", types)
	}
	if text.String() != "fake-provider says: hello codex" {
		t.Fatalf("text %q", text.String())
	}
	if r := p.Requests()[0]; r.Credential() != "sk-1" || r.Path != "/v1/responses" {
		t.Fatalf("recorded %+v", r)
	}
}

func TestResponsesJSON(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	resp := do(t, client(t, p), "POST", "https://api.openai.com/v1/responses", `{"model":"m","input":"plain"}`)
	var r struct {
		Status string
		Output []struct{ Content []struct{ Type, Text string } }
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "completed" || r.Output[0].Content[0].Text != "fake-provider says: plain" {
		t.Fatalf("%+v", r)
	}
}

// The WebSocket upgrade is refused (Codex falls back to HTTP) but recorded
// with its credential.
func TestResponsesWebSocketRefused(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{Credentials: []string{"real"}})
	c := client(t, p)
	resp := do(t, c, "GET", "https://api.openai.com/v1/responses", "", "Authorization", "Bearer real",
		"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %s", resp.Status)
	}
	if resp := do(t, c, "GET", "https://api.openai.com/v1/responses", "", "Authorization", "Bearer wrong"); resp.StatusCode != 401 {
		t.Fatalf("wrong credential: %s", resp.Status)
	}
	r := p.Requests()[0]
	if r.Header.Get("Upgrade") != "websocket" || r.Authorization != "Bearer real" {
		t.Fatalf("recorded %+v", r)
	}
}

const geminiBody = `{"contents":[{"role":"user","parts":[{"text":"hello "},{"text":"gemini"}]}]}`

func TestGeminiGenerateContent(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	resp := do(t, client(t, p), "POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent", geminiBody, "X-Goog-Api-Key", "AIza-1")
	var r struct {
		Candidates []struct {
			Content      struct{ Parts []struct{ Text string } }
			FinishReason string
		}
		ModelVersion string
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Candidates[0].Content.Parts[0].Text != "fake-provider says: hello gemini" || r.Candidates[0].FinishReason != "STOP" || r.ModelVersion != "gemini-2.5-pro" {
		t.Fatalf("%+v", r)
	}
	if got := p.Requests()[0].XGoogAPIKey; got != "AIza-1" {
		t.Fatalf("x-goog-api-key %q", got)
	}
}

func TestGeminiStreamSSE(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{Reply: func(string) string { return "a b c" }})
	resp := do(t, client(t, p), "POST", "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?alt=sse", geminiBody)
	var text strings.Builder
	var finish []string
	for _, d := range sse(t, resp.Body) {
		var r struct {
			Candidates []struct {
				Content      struct{ Parts []struct{ Text string } }
				FinishReason string
			}
		}
		if err := json.Unmarshal([]byte(d), &r); err != nil {
			t.Fatalf("%q: %v", d, err)
		}
		text.WriteString(r.Candidates[0].Content.Parts[0].Text)
		finish = append(finish, r.Candidates[0].FinishReason)
	}
	if text.String() != "a b c" || strings.Join(finish, ",") != ",,STOP" {
		t.Fatalf("text %q finish %v", text.String(), finish)
	}
}

func TestGeminiUnknownMethod(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	if resp := do(t, client(t, p), "POST", "https://generativelanguage.googleapis.com/v1beta/models/g:embedContent", geminiBody); resp.StatusCode != 404 {
		t.Fatalf("status %s", resp.Status)
	}
}

// EchoCredential hands the credential back in the text and a header, so a
// test can see what an agent was given in its place.
func TestEchoCredential(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{EchoCredential: true})
	resp := do(t, client(t, p), "POST", "https://api.anthropic.com/v1/messages", `{"messages":[{"role":"user","content":"hi"}]}`, "X-Api-Key", "k-1")
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "fake-provider says: hi [credential: k-1]") || resp.Header.Get("X-Fake-Credential") != "k-1" {
		t.Fatalf("%s %q", resp.Header.Get("X-Fake-Credential"), b)
	}
}

// A request for JSON output gets a value of the requested schema, as Gemini
// CLI's model router expects.
func TestGeminiJSONOutput(t *testing.T) {
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	body := `{"contents":[{"role":"user","parts":[{"text":"route me"}]}],"generationConfig":{"responseMimeType":"application/json",
	 "responseJsonSchema":{"type":"OBJECT","properties":{"complexity_reasoning":{"type":"STRING"},"complexity_score":{"type":"INTEGER"},"model":{"type":"string","enum":["flash","pro"]}},"required":["complexity_reasoning","complexity_score","model"]}}}`
	resp := do(t, client(t, p), "POST", "https://generativelanguage.googleapis.com/v1beta/models/flash-lite:generateContent", body)
	var r struct {
		Candidates []struct {
			Content struct{ Parts []struct{ Text string } }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.Candidates[0].Content.Parts[0].Text), &got); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	if got["complexity_reasoning"] != "fake" || got["complexity_score"] != float64(1) || got["model"] != "flash" {
		t.Fatalf("answer %v", got)
	}
}
