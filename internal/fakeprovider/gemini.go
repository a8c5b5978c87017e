package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// geminiRequest is the part of a Gemini generateContent request the fake
// reads.
type geminiRequest struct {
	Contents []struct {
		Role  string `json:"role"`
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"contents"`
	GenerationConfig struct {
		ResponseMimeType   string          `json:"responseMimeType"`
		ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
		ResponseSchema     json.RawMessage `json:"responseSchema"`
	} `json:"generationConfig"`
}

// schema is the part of a JSON schema (OpenAPI style, as Gemini takes it:
// types in either case) the fake fills in.
type schema struct {
	Type       string            `json:"type"`
	Properties map[string]schema `json:"properties"`
	Required   []string          `json:"required"`
	Items      *schema           `json:"items"`
	Enum       []any             `json:"enum"`
	Minimum    *float64          `json:"minimum"`
}

// sample is a small value that matches s: the first enum value, the
// minimum (else 1) for numbers, "fake" for strings, every required property
// of an object. Gemini CLI asks for JSON this way (its model router's
// classifier) and retries until the answer parses.
func (s schema) sample() any {
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch strings.ToLower(s.Type) {
	case "object":
		obj := map[string]any{}
		for _, k := range s.Required {
			obj[k] = s.Properties[k].sample()
		}
		return obj
	case "array":
		return []any{}
	case "integer", "number":
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1
	case "boolean":
		return false
	}
	return "fake"
}

// jsonAnswer is the answer to a request for JSON output, or "" for text.
func (g geminiRequest) jsonAnswer() string {
	gc := g.GenerationConfig
	if gc.ResponseMimeType != "application/json" {
		return ""
	}
	raw := gc.ResponseJSONSchema
	if len(raw) == 0 {
		raw = gc.ResponseSchema
	}
	var s schema
	if json.Unmarshal(raw, &s) != nil {
		return "{}"
	}
	b, _ := json.Marshal(s.sample())
	return string(b)
}

// prompt is the text of the last user turn.
func (g geminiRequest) prompt() string {
	for i := len(g.Contents) - 1; i >= 0; i-- {
		c := g.Contents[i]
		if c.Role != "" && c.Role != "user" {
			continue
		}
		var b strings.Builder
		for _, p := range c.Parts {
			b.WriteString(p.Text)
		}
		if t := cleanPrompt(b.String()); t != "" {
			return t
		}
	}
	return ""
}

// gemini answers POST /v1beta/models/MODEL:METHOD: generateContent (JSON),
// streamGenerateContent (server-sent events with ?alt=sse, else a JSON
// array) and countTokens. Gemini CLI sends its key as x-goog-api-key.
func (p *Provider) gemini(w http.ResponseWriter, r *http.Request) {
	model, method, ok := strings.Cut(r.PathValue("call"), ":")
	if !ok {
		geminiError(w, http.StatusNotFound, "NOT_FOUND", "want /v1beta/models/MODEL:METHOD")
		return
	}
	if !p.authorized(r) {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
		return
	}
	var req geminiRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "body is not JSON: "+err.Error())
		return
	}
	prompt := req.prompt()
	text := req.jsonAnswer()
	if text == "" {
		text = p.reply(r, prompt)
	}
	in, out := len(strings.Fields(prompt)), len(strings.Fields(text))
	answer := func(t, finish string, outTokens int) map[string]any {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": []map[string]string{{"text": t}}}, "index": 0}
		if finish != "" {
			cand["finishReason"] = finish
		}
		return map[string]any{
			"candidates":    []any{cand},
			"usageMetadata": map[string]int{"promptTokenCount": in, "candidatesTokenCount": outTokens, "totalTokenCount": in + outTokens},
			"modelVersion":  model,
			"responseId":    "fakeprovider",
		}
	}
	switch method {
	case "countTokens":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"totalTokens": in})
	case "generateContent":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer(text, "STOP", out))
	case "streamGenerateContent":
		parts := chunks(text)
		if r.URL.Query().Get("alt") != "sse" {
			var all []any
			for i, c := range parts {
				all = append(all, answer(c, finishAt(i, len(parts)), out))
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(all)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		for i, c := range parts {
			b, _ := json.Marshal(answer(c, finishAt(i, len(parts)), out))
			fmt.Fprintf(w, "data: %s\r\n\r\n", b)
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
	default:
		geminiError(w, http.StatusNotFound, "NOT_FOUND", "method "+method+" is not served by the fake")
	}
}

// finishAt is the finishReason of chunk i of n: STOP on the last only.
func finishAt(i, n int) string {
	if i == n-1 {
		return "STOP"
	}
	return ""
}

// geminiError writes the Google API error shape.
func geminiError(w http.ResponseWriter, status int, state, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"code": status, "message": msg, "status": state},
	})
}
