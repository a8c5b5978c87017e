package main

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
	"github.com/clauderon/clauderon/proxy"
)

func proxyCmd(g *globals, io stdio) *cobra.Command {
	var f proxyFlags
	var token, name, logLevel string
	cmd := &cobra.Command{
		Use:   "proxy --session-token TOKEN",
		Short: "Run the credential-injecting proxy alone",
		Long: `Run the proxy without the daemon, for one client identity. Clients use
http://NAME:TOKEN@HOST:PORT as their proxy. Secrets come from this process's
environment (CLAUDE_CODE_OAUTH_TOKEN, ANTHROPIC_API_KEY, OPENAI_API_KEY, ...)
and $CLAUDERON_HOME (config.toml rules, secrets/ files). SIGHUP reloads them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("CLAUDERON_PROXY_TOKEN")
			}
			if len(token) < 16 {
				return clauderon.Errorf(clauderon.EINVALID, "the proxy needs a session token of at least 16 characters: --session-token TOKEN (or CLAUDERON_PROXY_TOKEN); make one with 'openssl rand -hex 32'")
			}
			home, err := g.Home()
			if err != nil {
				return err
			}
			log, err := newLogger(io.err, logLevel, "text")
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			parts, err := buildProxyParts(ctx, home, &f)
			if err != nil {
				return err
			}
			for _, line := range credentialSummary(parts.secrets.Statuses()) {
				log.Info("credential", "detail", line)
			}
			auditLog, err := audit.Open(filepath.Join(home, "audit.jsonl"), audit.Options{
				MaxBytes: int64(parts.cfg.Audit.MaxSizeMB) << 20, MaxFiles: parts.cfg.Audit.MaxFiles, Logger: log,
			})
			if err != nil {
				return err
			}
			defer auditLog.Close()
			px, err := proxy.New(proxy.Config{
				GetCertificate: parts.issuer.GetCertificate,
				Auth:           proxy.NewTokenAuth(token, clauderon.Identity{Session: name, AccessMode: clauderon.AccessReadWrite}),
				Credentials:    parts.secrets.Current,
				Audit:          auditLog,
				UpstreamRoots:  parts.roots,
				Resolve:        parts.resolve,
				ConnectPorts:   parts.cfg.ConnectPorts,
				Logger:         log,
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", parts.listen)
			if err != nil {
				return clauderon.Errorf(clauderon.EUNAVAILABLE, "cannot listen on %s: %v (pick another address with --listen)", parts.listen, err)
			}
			log.Info("proxy listening", "addr", ln.Addr().String(), "ca", filepath.Join(home, "proxy-ca.pem"), "session", name)
			reloadOnHUP(ctx, parts.secrets, log)
			errc := make(chan error, 1)
			go func() { errc <- px.Serve(ln) }()
			select {
			case err := <-errc:
				if errors.Is(err, net.ErrClosed) {
					return nil
				}
				return err
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			return px.Shutdown(sctx)
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&token, "session-token", "", "the token clients put in their proxy URL's password")
	cmd.Flags().StringVar(&name, "session-name", "proxy", "the session name written to the audit log")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
