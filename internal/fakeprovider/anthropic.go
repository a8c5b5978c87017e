package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// messagesRequest is the part of a Messages API request the fake reads.
type messagesRequest struct {
	Model    string `json:"model"`
	Stream   bool   `json:"stream"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"` // a string or content blocks
	} `json:"messages"`
}

// prompt is the text of the last user message.
func (m messagesRequest) prompt() string {
	for i := len(m.Messages) - 1; i >= 0; i-- {
		msg := m.Messages[i]
		if msg.Role != "user" {
			continue
		}
		var s string
		if json.Unmarshal(msg.Content, &s) == nil {
			return cleanPrompt(s)
		}
		var blocks []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		json.Unmarshal(msg.Content, &blocks)
		var b strings.Builder
		for _, bl := range blocks {
			if bl.Type == "text" {
				b.WriteString(bl.Text)
			}
		}
		return cleanPrompt(b.String())
	}
	return ""
}

// agentContext matches the context agents wrap around a user's prompt in the
// same message: Claude Code's <system-reminder>, Codex's
// <environment_context> and <user_instructions>, Gemini CLI's
// <session_context>.
var agentContext = regexp.MustCompile(`(?s)<system-reminder>.*?</system-reminder>|<environment_context>.*?</environment_context>|<user_instructions>.*?</user_instructions>|<session_context>.*?</session_context>`)

// cleanPrompt is what the user typed: text without the agent's context.
func cleanPrompt(s string) string {
	return strings.TrimSpace(agentContext.ReplaceAllString(s, ""))
}

// anthropicMessages answers POST /v1/messages like the Messages API: a JSON
// message, or with "stream": true the server-sent event sequence Claude Code
// parses (message_start, content_block_start, content_block_delta with
// text_delta, content_block_stop, message_delta with usage, message_stop).
func (p *Provider) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	var req messagesRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "body is not JSON: "+err.Error())
		return
	}
	if req.Model == "" {
		req.Model = "claude-fake"
	}
	text := p.reply(r, req.prompt())
	usage := map[string]int{"input_tokens": len(strings.Fields(req.prompt())), "output_tokens": len(strings.Fields(text))}
	const id = "msg_fakeprovider"
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": id, "type": "message", "role": "assistant", "model": req.Model,
			"content":     []map[string]string{{"type": "text", "text": text}},
			"stop_reason": "end_turn", "stop_sequence": nil, "usage": usage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	send := func(event string, data any) {
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": req.Model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil,
		"usage": map[string]int{"input_tokens": usage["input_tokens"], "output_tokens": 1},
	}})
	send("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
		"content_block": map[string]string{"type": "text", "text": ""}})
	for _, chunk := range chunks(text) {
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]string{"type": "text_delta", "text": chunk}})
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": usage["output_tokens"]}})
	send("message_stop", map[string]string{"type": "message_stop"})
}

// chunks splits text after each space, so a client must join several deltas
// to get the answer, as with the real stream.
func chunks(text string) []string {
	parts := strings.SplitAfter(text, " ")
	if len(parts) == 0 {
		return []string{""}
	}
	return parts
}

// anthropicError writes the Messages API's error shape.
func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":  "error",
		"error": map[string]string{"type": typ, "message": msg},
	})
}
