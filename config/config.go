// Package config reads $CLAUDERON_HOME/config.toml: where the proxy and the
// API listen, which extra roots and address overrides the proxy uses
// upstream, the user's own credential rules, session defaults and the audit
// log's rotation.
//
// It is strict on purpose. A misspelt key is an error rather than a setting
// that silently does nothing, and every value is checked when the file is
// read, so the daemon refuses to start with a message naming the key instead
// of failing later on a request. The file holds secret sources ("env:NAME"),
// never secrets, except web.token, which is masked wherever the config is
// shown.
package config

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/clauderon/clauderon"
)

// Defaults, and names that other packages share.
const (
	FileName = "config.toml"
	// HomeEnv names the variable that overrides the home directory.
	HomeEnv = "CLAUDERON_HOME"
	// DefaultHomeDir is the home under the user's home directory.
	DefaultHomeDir = ".clauderon"

	DefaultProxyListen         = "127.0.0.1:18080"
	DefaultHTTPListen          = "127.0.0.1:3030"
	DefaultConnectPort         = 443
	DefaultAgent               = clauderon.DefaultAgent
	DefaultBackend             = "docker"
	DefaultAuditMaxSizeMB      = 100
	DefaultAuditMaxFiles       = 5
	DefaultKubernetesNamespace = "clauderon"

	// minWebTokenLen keeps a hand-picked web token from being guessable.
	minWebTokenLen = 16
)

// Backends clauderon knows.
var backends = []string{"docker", "kubernetes"}

// Config is the content of config.toml. Every key is optional; Default
// gives the values of the keys not in the file.
type Config struct {
	// ProxyListen is the proxy's address (proxy_listen). The daemon may
	// listen elsewhere too, where its containers can reach it.
	ProxyListen string `toml:"proxy_listen"`
	// HTTPListen is the API and web UI's loopback address (http_listen).
	HTTPListen string `toml:"http_listen"`
	// UpstreamCA lists PEM files of extra roots the proxy trusts upstream
	// (upstream_ca), for a corporate TLS gateway.
	UpstreamCA []string `toml:"upstream_ca"`
	// Resolve lists HOST:PORT=ADDR overrides (resolve): the proxy dials
	// ADDR for HOST:PORT, like curl's --resolve. ADDR is HOST:PORT or an IP
	// meaning the same port.
	Resolve []string `toml:"resolve"`
	// ConnectPorts are the ports CONNECT may reach (connect_ports); others
	// get 403.
	ConnectPorts []int `toml:"connect_ports"`
	// DefaultAgent is the agent of a session that names none
	// (default_agent): claude, codex or gemini.
	DefaultAgent string `toml:"default_agent"`
	// DefaultImage is the image of a session that names none
	// (default_image); "" means the agent's own.
	DefaultImage string `toml:"default_image"`
	// DefaultBackend is docker or kubernetes (default_backend).
	DefaultBackend string `toml:"default_backend"`
	// Audit configures the audit log's rotation ([audit]).
	Audit AuditConfig `toml:"audit"`
	// Rules are the user's credential rules ([[rule]] tables). They come
	// before the built-in ones, so a rule for a built-in host replaces it.
	Rules []RuleConfig `toml:"rule"`
	// Allow is the default egress allow list (allow): host names, *.suffix
	// patterns, IP addresses or CIDR prefixes sessions may reach besides
	// their agent's provider.
	Allow []string `toml:"allow"`
	// Web configures the web UI ([web]).
	Web WebConfig `toml:"web"`
	// Kubernetes configures the kubernetes backend ([kubernetes]).
	Kubernetes KubernetesConfig `toml:"kubernetes"`
}

// AuditConfig is the [audit] table.
type AuditConfig struct {
	// MaxSizeMB is the size at which audit.jsonl is rotated (max_size_mb).
	MaxSizeMB int `toml:"max_size_mb"`
	// MaxFiles is how many rotated files are kept (max_files).
	MaxFiles int `toml:"max_files"`
}

// RuleConfig is one [[rule]] table: on requests to its hosts, the proxy
// removes the client's header and sets header to value with the secret in.
type RuleConfig struct {
	// Name identifies the rule in statuses and the audit log (name).
	Name string `toml:"name"`
	// Hosts the rule applies to (hosts): names or *.suffix patterns, the
	// suffix not matching the apex.
	Hosts []string `toml:"hosts,omitempty"`
	// Host is a single host, instead of hosts (host).
	Host string `toml:"host,omitempty"`
	// Header to set (header), for example "Authorization".
	Header string `toml:"header"`
	// Value is the header's template (value): ${secret} is the secret,
	// ${basic:USER} the base64 of USER:secret for HTTP Basic.
	Value string `toml:"value"`
	// Secret is where the secret comes from (secret): env:NAME, file:PATH
	// (relative to $CLAUDERON_HOME/secrets, mode 600), cmd:COMMAND, or
	// several separated by | and tried in order.
	Secret string `toml:"secret"`
	// Placeholder is what containers hold instead of the secret
	// (placeholder); default "clauderon-proxy-placeholder-NAME".
	Placeholder string `toml:"placeholder,omitempty"`
	// Env lists container variables set to the placeholder (env).
	Env []string `toml:"env,omitempty"`
	// Strip lists more client headers to remove (strip); header itself is
	// always removed.
	Strip []string `toml:"strip,omitempty"`
}

// WebConfig is the [web] table.
type WebConfig struct {
	// Token is the web UI's login token (token); empty means one is
	// generated. It is a secret: every rendering of a WebConfig masks it.
	Token string `toml:"token"`
}

// KubernetesConfig is the [kubernetes] table.
type KubernetesConfig struct {
	// Namespace for session pods (namespace).
	Namespace string `toml:"namespace"`
	// StorageClass of workspace volumes (storage_class); "" is the
	// cluster's default.
	StorageClass string `toml:"storage_class"`
	// ProxyURL is how pods reach the proxy (proxy_url), for example
	// http://10.0.0.5:18080; "" lets the backend work it out.
	ProxyURL string `toml:"proxy_url"`
	// Kubeconfig is the kubeconfig file (kubeconfig); "" means the usual
	// lookup ($KUBECONFIG, ~/.kube/config, in-cluster).
	Kubeconfig string `toml:"kubeconfig"`
}

// maskToken shows that a token is set, and its length, but none of it.
func maskToken(t string) string {
	if t == "" {
		return ""
	}
	return "[REDACTED " + strconv.Itoa(len(t)) + " chars]"
}

func (w WebConfig) String() string       { return "{Token:" + maskToken(w.Token) + "}" }
func (w WebConfig) GoString() string     { return "config.WebConfig" + w.String() }
func (w WebConfig) LogValue() slog.Value { return slog.StringValue(w.String()) }

// Default returns the configuration used when config.toml is absent.
func Default() *Config {
	return &Config{
		ProxyListen:    DefaultProxyListen,
		HTTPListen:     DefaultHTTPListen,
		ConnectPorts:   []int{DefaultConnectPort},
		DefaultAgent:   DefaultAgent,
		DefaultBackend: DefaultBackend,
		Audit:          AuditConfig{MaxSizeMB: DefaultAuditMaxSizeMB, MaxFiles: DefaultAuditMaxFiles},
		Kubernetes:     KubernetesConfig{Namespace: DefaultKubernetesNamespace},
	}
}

// Home returns clauderon's home directory: $CLAUDERON_HOME if set (made
// absolute), else ~/.clauderon. It does not create it.
func Home() (string, error) {
	if h := os.Getenv(HomeEnv); h != "" {
		abs, err := filepath.Abs(h)
		if err != nil {
			return "", clauderon.Errorf(clauderon.EINVALID, "%s=%s: %v", HomeEnv, h, err)
		}
		return abs, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", clauderon.Errorf(clauderon.EINVALID, "cannot find your home directory (%v): set %s", err, HomeEnv)
	}
	return filepath.Join(home, DefaultHomeDir), nil
}

// Load reads the config file at path. A missing file gives Default();
// malformed TOML, unknown keys and invalid values give a *clauderon.Error
// (EINVALID) naming the file and the line or key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "cannot read %s: %v", path, err)
	}
	return Parse(data, path)
}

// Parse is Load on data already read; name is the file name to show in
// errors.
func Parse(data []byte, name string) (*Config, error) {
	c := Default()
	// Lists replace the default, not extend it: connect_ports = [8443]
	// means 8443 only.
	c.ConnectPorts = nil
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.LastKey != "" {
				msg += " (after key " + pe.LastKey + ")"
			}
			return nil, clauderon.Errorf(clauderon.EINVALID, "%s line %d: %s", name, pe.Position.Line, msg)
		}
		// Type mismatches carry their line in the text: "toml: line 3 ...".
		return nil, clauderon.Errorf(clauderon.EINVALID, "%s: %s", name, strings.TrimPrefix(err.Error(), "toml: "))
	}
	if !md.IsDefined("connect_ports") {
		c.ConnectPorts = []int{DefaultConnectPort}
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, clauderon.Errorf(clauderon.EINVALID,
			"%s: unknown key(s): %s; check the spelling (`clauderon config show` lists every key)", name, strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "%s: %s", name, clauderon.ErrorMessage(err))
	}
	return c, nil
}

// TOML renders the configuration as config.toml text, with web.token
// masked, for `clauderon config show`. The output is for reading, and
// cannot be loaded back while a token is set.
func (c Config) TOML() string {
	c.Web.Token = maskToken(c.Web.Token)
	// Empty lists are shown, so that every key appears.
	for _, l := range []*[]string{&c.UpstreamCA, &c.Resolve, &c.Allow} {
		if *l == nil {
			*l = []string{}
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# clauderon configuration (web.token is masked)\n")
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return "# cannot render the configuration: " + err.Error() + "\n"
	}
	return buf.String()
}

// String is TOML: a Config printed anywhere shows no token.
func (c Config) String() string { return c.TOML() }

// GoString keeps %#v from printing the token.
func (c Config) GoString() string { return c.TOML() }
