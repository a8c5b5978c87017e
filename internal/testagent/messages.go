package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// defaultBaseURL is where Claude Code sends model calls; ANTHROPIC_BASE_URL
// overrides it, as it does for Claude Code.
const defaultBaseURL = "https://api.anthropic.com"

// placeholder header names, as Claude Code sends them: an OAuth token as a
// bearer token, an API key as x-api-key.
func authHeader() (name, value string, err error) {
	if t := os.Getenv("CLAUDE_CODE_OAUTH_TOKEN"); t != "" {
		return "Authorization", "Bearer " + t, nil
	}
	if k := os.Getenv("ANTHROPIC_API_KEY"); k != "" {
		return "X-Api-Key", k, nil
	}
	return "", "", errors.New("not logged in: set CLAUDE_CODE_OAUTH_TOKEN or ANTHROPIC_API_KEY")
}

// ask sends prompt as one streaming Messages API call and copies the text
// deltas to w as they arrive, then a newline. The transport is Go's default:
// HTTPS_PROXY and NO_PROXY from the environment, roots from SSL_CERT_FILE.
func ask(prompt string, w io.Writer) error {
	name, value, err := authHeader()
	if err != nil {
		return err
	}
	base := os.Getenv("ANTHROPIC_BASE_URL")
	if base == "" {
		base = defaultBaseURL
	}
	body, _ := json.Marshal(map[string]any{
		"model":      "claude-test",
		"max_tokens": 1024,
		"stream":     true,
		"messages":   []map[string]any{{"role": "user", "content": prompt}},
	})
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/v1/messages?beta=true", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set(name, value)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	if name == "Authorization" {
		req.Header.Set("Anthropic-Beta", "oauth-2025-04-20")
	}
	// A hung proxy must not hang a test forever; real calls take seconds.
	c := &http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("calling the API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("API answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	if err := streamText(resp.Body, w); err != nil {
		return err
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// streamText reads a Messages API event stream and writes its text deltas.
// It fails on an "error" event and on a stream cut before message_stop.
func streamText(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue // "event:" lines repeat the type that data carries
		}
		var ev struct {
			Type  string `json:"type"`
			Delta struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"delta"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &ev); err != nil {
			return fmt.Errorf("bad event in the API stream: %w", err)
		}
		switch ev.Type {
		case "content_block_delta":
			if ev.Delta.Type == "text_delta" {
				if _, err := io.WriteString(w, ev.Delta.Text); err != nil {
					return err
				}
			}
		case "error":
			return fmt.Errorf("API stream error %s: %s", ev.Error.Type, ev.Error.Message)
		case "message_stop":
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the API stream: %w", err)
	}
	return errors.New("the API stream ended before message_stop")
}
