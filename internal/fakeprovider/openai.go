package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// responsesRequest is the part of an OpenAI Responses API request the fake
// reads. Input is a string or a list of items; Codex sends items.
type responsesRequest struct {
	Model  string          `json:"model"`
	Stream bool            `json:"stream"`
	Input  json.RawMessage `json:"input"`
}

// prompt is the text of the last user message's last text part: Codex sends
// its context (instructions, environment) as earlier items or parts.
func (r responsesRequest) prompt() string {
	var s string
	if json.Unmarshal(r.Input, &s) == nil {
		return cleanPrompt(s)
	}
	var items []struct {
		Type    string          `json:"type"`
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	json.Unmarshal(r.Input, &items)
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if it.Role != "user" || (it.Type != "" && it.Type != "message") {
			continue
		}
		if json.Unmarshal(it.Content, &s) == nil {
			return cleanPrompt(s)
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		json.Unmarshal(it.Content, &parts)
		for j := len(parts) - 1; j >= 0; j-- {
			if t := cleanPrompt(parts[j].Text); t != "" {
				return t
			}
		}
	}
	return ""
}

// openaiResponses answers POST /v1/responses: the response object as JSON,
// or with "stream": true the server-sent events Codex reads
// (response.created, response.output_item.added, response.output_text.delta,
// response.output_item.done, response.completed).
func (p *Provider) openaiResponses(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		openaiError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided")
		return
	}
	var req responsesRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		openaiError(w, http.StatusBadRequest, "invalid_request_error", "body is not JSON: "+err.Error())
		return
	}
	if req.Model == "" {
		req.Model = "gpt-fake"
	}
	prompt := req.prompt()
	text := p.reply(r, prompt)
	const respID, itemID = "resp_fakeprovider", "msg_fakeprovider"
	usage := map[string]any{
		"input_tokens": len(strings.Fields(prompt)), "input_tokens_details": map[string]int{"cached_tokens": 0},
		"output_tokens": len(strings.Fields(text)), "output_tokens_details": map[string]int{"reasoning_tokens": 0},
		"total_tokens": len(strings.Fields(prompt)) + len(strings.Fields(text)),
	}
	item := func(t string) map[string]any {
		content := []map[string]any{}
		if t != "" || text == "" {
			content = append(content, map[string]any{"type": "output_text", "text": t, "annotations": []any{}})
		}
		return map[string]any{"id": itemID, "type": "message", "role": "assistant", "status": "completed", "content": content}
	}
	response := func(status string, output []any, u any) map[string]any {
		return map[string]any{
			"id": respID, "object": "response", "model": req.Model, "status": status,
			"output": output, "usage": u,
		}
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(response("completed", []any{item(text)}, usage))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	seq := 0
	send := func(data map[string]any) {
		data["sequence_number"] = seq
		seq++
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", data["type"], b)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	send(map[string]any{"type": "response.created", "response": response("in_progress", []any{}, nil)})
	send(map[string]any{"type": "response.output_item.added", "output_index": 0, "item": item("")})
	for _, c := range chunks(text) {
		send(map[string]any{"type": "response.output_text.delta", "item_id": itemID, "output_index": 0, "content_index": 0, "delta": c})
	}
	send(map[string]any{"type": "response.output_text.done", "item_id": itemID, "output_index": 0, "content_index": 0, "text": text})
	send(map[string]any{"type": "response.output_item.done", "output_index": 0, "item": item(text)})
	send(map[string]any{"type": "response.completed", "response": response("completed", []any{item(text)}, usage)})
}

// openaiWebSocket refuses the Responses API's WebSocket transport
// (GET /v1/responses with Upgrade: websocket) with 426 Upgrade Required, as
// a server without it would; Codex then falls back to POST /v1/responses with
// server-sent events. The upgrade request is recorded like every other, so a
// test still sees which credential it carried.
func (p *Provider) openaiWebSocket(w http.ResponseWriter, r *http.Request) {
	if !p.authorized(r) {
		openaiError(w, http.StatusUnauthorized, "invalid_api_key", "Incorrect API key provided")
		return
	}
	openaiError(w, http.StatusUpgradeRequired, "websocket_unsupported", "this fake serves the Responses API over HTTP only")
}

// openaiModels answers GET /v1/models with an empty list.
func (p *Provider) openaiModels(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"object":"list","data":[],"models":[]}`))
}

// openaiError writes the OpenAI API's error shape.
func openaiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": code},
	})
}
