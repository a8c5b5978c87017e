package session

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/clauderon/clauderon"
)

// ProxyHost is the name containers use for the host's proxy. Backends map it to
// the address where the proxy listens for them.
const ProxyHost = "host.docker.internal"

// noProxy keeps loopback traffic inside the container off the proxy.
const noProxy = "localhost,127.0.0.1,::1"

// sandboxUser is the uid:gid agents run as when the host user is root and no
// repository tells whose files the session works on.
const sandboxUser = "1000:1000"

// proxyURL is the URL agents use for the proxy: the session name as user and
// its token as password, which every HTTP stack sends as Proxy-Authorization.
func proxyURL(session, token string, port int) string {
	u := url.URL{Scheme: "http", User: url.UserPassword(session, token), Host: fmt.Sprintf("%s:%d", ProxyHost, port)}
	return u.String()
}

// placeholderEnv returns the placeholder for every credential the host has,
// as KEY=VALUE. A credential that can never be used because an earlier one
// owns all its hosts (an API key when an OAuth token is configured) gets no
// placeholder: Claude Code would otherwise see both and ask which to use.
func placeholderEnv(creds *clauderon.CredentialSet) []string {
	var env []string
	seen := map[string]bool{}
	all := creds.All()
	for i, c := range all {
		if shadowed(c, all[:i]) {
			continue
		}
		for _, k := range c.Rule.EnvVars {
			if seen[k] || c.Rule.Placeholder == "" {
				continue
			}
			seen[k] = true
			env = append(env, k+"="+c.Rule.Placeholder)
		}
	}
	return env
}

// shadowed reports whether every host of c is already matched by an earlier
// credential (so the proxy would never inject c).
func shadowed(c clauderon.Credential, earlier []clauderon.Credential) bool {
	if len(c.Rule.Hosts) == 0 {
		return false
	}
	for _, h := range c.Rule.Hosts {
		covered := false
		for _, e := range earlier {
			if slices.Contains(e.Rule.Hosts, h) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// proxyEnv is the environment that routes a container through the proxy and
// makes every common TLS stack trust its CA. NODE_EXTRA_CA_CERTS adds to
// Node's roots, so it gets the CA alone; the others replace the roots, so they
// get the bundle (system roots plus the CA), which keeps tunnelled hosts
// (package registries) working too.
func proxyEnv(session, token string, port int) []string {
	u := proxyURL(session, token, port)
	return []string{
		"HTTPS_PROXY=" + u, "https_proxy=" + u, "HTTP_PROXY=" + u, "http_proxy=" + u,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy,
		"NODE_EXTRA_CA_CERTS=" + clauderon.ContainerCAPath,
		"SSL_CERT_FILE=" + clauderon.ContainerCABundlePath,
		"REQUESTS_CA_BUNDLE=" + clauderon.ContainerCABundlePath,
		"CURL_CA_BUNDLE=" + clauderon.ContainerCABundlePath,
		"GIT_SSL_CAINFO=" + clauderon.ContainerCABundlePath,
		"CODEX_CA_CERTIFICATE=" + clauderon.ContainerCABundlePath,
	}
}

// claudeJSON is the agent's ~/.claude.json: onboarding done (no first-run
// screens), the bypass-permissions warning accepted (the container is the
// sandbox), the workspace trusted (Claude Code 2.x asks "Is this a project
// you created or one you trust?" in interactive mode, even with
// --dangerously-skip-permissions; the workspace is the user's own worktree,
// mounted in a container that is the sandbox), and the API-key placeholder
// pre-approved so Claude Code does not ask "Do you want to use this API key?".
func claudeJSON(env []string) []byte {
	cfg := map[string]any{
		"hasCompletedOnboarding":        true,
		"bypassPermissionsModeAccepted": true,
		"projects": map[string]any{
			clauderon.ContainerWorkspace: map[string]any{"hasTrustDialogAccepted": true},
		},
	}
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == "ANTHROPIC_API_KEY" && len(v) >= 20 {
			cfg["customApiKeyResponses"] = map[string]any{"approved": []string{v[len(v)-20:]}, "rejected": []string{}}
		}
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return append(b, '\n')
}
