package clauderon

import "slices"

// Agent describes how to run one coding agent CLI.
type Agent struct {
	Name   string
	Binary string
	// Hosts the agent needs to do its job (its provider).
	Hosts []HostPattern
	// Env is set in the container besides the placeholders.
	Env []string
	// interactive and print build the command line for each mode.
	interactive func(prompt string) []string
	print       func(prompt string) []string
}

// Command returns the agent's command line for mode and prompt.
func (a Agent) Command(mode Mode, prompt string) []string {
	if mode == ModePrint {
		return a.print(prompt)
	}
	return a.interactive(prompt)
}

// withPrompt appends prompt as the last argument when it is set.
func withPrompt(args []string, prompt string) []string {
	if prompt == "" {
		return args
	}
	return append(slices.Clip(args), prompt)
}

// Agents are the agent CLIs clauderon knows, by name.
var agents = map[string]Agent{
	"claude": {
		Name:   "claude",
		Binary: "claude",
		Hosts:  []HostPattern{"api.anthropic.com"},
		// The image pins the version; an update inside a container would
		// be lost with it and fetches from downloads.claude.ai.
		Env: []string{"DISABLE_AUTOUPDATER=1"},
		interactive: func(p string) []string {
			return withPrompt([]string{"claude", "--dangerously-skip-permissions"}, p)
		},
		print: func(p string) []string {
			return withPrompt([]string{"claude", "--dangerously-skip-permissions", "--print", "--verbose"}, p)
		},
	},
	"codex": {
		Name:   "codex",
		Binary: "codex",
		Hosts:  []HostPattern{"api.openai.com"},
		interactive: func(p string) []string {
			return withPrompt([]string{"codex", "--dangerously-bypass-approvals-and-sandbox"}, p)
		},
		print: func(p string) []string {
			return withPrompt([]string{"codex", "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"}, p)
		},
	},
	"gemini": {
		Name:   "gemini",
		Binary: "gemini",
		Hosts:  []HostPattern{"generativelanguage.googleapis.com"},
		Env:    []string{"GEMINI_CLI_TRUST_WORKSPACE=true"},
		interactive: func(p string) []string {
			if p == "" {
				return []string{"gemini", "--yolo"}
			}
			return []string{"gemini", "--yolo", "--prompt-interactive", p}
		},
		print: func(p string) []string {
			return []string{"gemini", "--yolo", "-p", p}
		},
	},
}

// DefaultAgent is the agent used when none is named.
const DefaultAgent = "claude"

// LookupAgent returns the named agent ("" is DefaultAgent).
func LookupAgent(name string) (Agent, error) {
	if name == "" {
		name = DefaultAgent
	}
	a, ok := agents[name]
	if !ok {
		return Agent{}, Errorf(EINVALID, "unknown agent %q: use claude, codex or gemini", name)
	}
	return a, nil
}

// AgentNames lists the known agents, sorted.
func AgentNames() []string {
	names := make([]string, 0, len(agents))
	for n := range agents {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
