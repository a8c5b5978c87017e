package secret

import "github.com/clauderon/clauderon"

// Built-in rule names.
const (
	RuleAnthropicOAuth  = "anthropic-oauth"
	RuleAnthropicAPIKey = "anthropic-api-key"
	RuleOpenAI          = "openai"
	RuleGemini          = "gemini"
	RuleGitHubAPI       = "github-api"
	RuleGitHubGit       = "github-git"
)

// Placeholders handed to containers by the built-in rules. Each looks enough
// like the real kind of credential that the agent CLI accepts it (Claude Code
// recognises an OAuth token by its sk-ant-oat01- prefix).
const (
	PlaceholderAnthropicOAuth  = "sk-ant-oat01-clauderon-proxy-placeholder"
	PlaceholderAnthropicAPIKey = "sk-ant-api03-clauderon-proxy-placeholder"
	PlaceholderOpenAI          = "sk-proj-clauderon-proxy-placeholder"
	PlaceholderGemini          = "clauderon-proxy-placeholder-gemini"
	PlaceholderGitHub          = "ghp_clauderonproxyplaceholder000000000000"
)

// BuiltinRules returns the rules clauderon knows without configuration, in
// priority order, as a new slice the caller may change. Anthropic's OAuth
// rule comes before its API-key rule so that, with both configured, the
// OAuth token wins (CredentialSet.Lookup takes the first match): Claude Code
// with an OAuth token skips the "use this API key?" prompt.
func BuiltinRules() []clauderon.Rule {
	const github = "env:GITHUB_TOKEN|env:GH_TOKEN|file:GITHUB_TOKEN"
	return []clauderon.Rule{
		{
			Name:        RuleAnthropicOAuth,
			Hosts:       []clauderon.HostPattern{"api.anthropic.com"},
			Header:      "Authorization",
			Template:    "Bearer ${secret}",
			Strip:       []string{"Authorization", "X-Api-Key"},
			Source:      "env:CLAUDE_CODE_OAUTH_TOKEN|file:CLAUDE_CODE_OAUTH_TOKEN",
			Placeholder: PlaceholderAnthropicOAuth,
			EnvVars:     []string{"CLAUDE_CODE_OAUTH_TOKEN"},
		},
		{
			Name:        RuleAnthropicAPIKey,
			Hosts:       []clauderon.HostPattern{"api.anthropic.com"},
			Header:      "X-Api-Key",
			Template:    "${secret}",
			Strip:       []string{"Authorization", "X-Api-Key"},
			Source:      "env:ANTHROPIC_API_KEY|file:ANTHROPIC_API_KEY",
			Placeholder: PlaceholderAnthropicAPIKey,
			EnvVars:     []string{"ANTHROPIC_API_KEY"},
		},
		{
			Name:        RuleOpenAI,
			Hosts:       []clauderon.HostPattern{"api.openai.com"},
			Header:      "Authorization",
			Template:    "Bearer ${secret}",
			Strip:       []string{"Authorization"},
			Source:      "env:OPENAI_API_KEY|env:CODEX_API_KEY|file:OPENAI_API_KEY",
			Placeholder: PlaceholderOpenAI,
			EnvVars:     []string{"OPENAI_API_KEY", "CODEX_API_KEY"},
		},
		{
			Name:        RuleGemini,
			Hosts:       []clauderon.HostPattern{"generativelanguage.googleapis.com"},
			Header:      "X-Goog-Api-Key",
			Template:    "${secret}",
			Strip:       []string{"X-Goog-Api-Key", "Authorization"},
			Source:      "env:GEMINI_API_KEY|file:GEMINI_API_KEY",
			Placeholder: PlaceholderGemini,
			EnvVars:     []string{"GEMINI_API_KEY"},
		},
		{
			Name:        RuleGitHubAPI,
			Hosts:       []clauderon.HostPattern{"api.github.com"},
			Header:      "Authorization",
			Template:    "Bearer ${secret}",
			Strip:       []string{"Authorization"},
			Source:      github,
			Placeholder: PlaceholderGitHub,
			EnvVars:     []string{"GH_TOKEN", "GITHUB_TOKEN"},
		},
		{
			// git over HTTPS sends Basic auth; GitHub takes a token as the
			// password of the user x-access-token.
			Name:        RuleGitHubGit,
			Hosts:       []clauderon.HostPattern{"github.com"},
			Header:      "Authorization",
			Template:    "Basic ${basic:x-access-token}",
			Strip:       []string{"Authorization"},
			Source:      github,
			Placeholder: PlaceholderGitHub,
			// No EnvVars: github-api already hands out the placeholder.
		},
	}
}
