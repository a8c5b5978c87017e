package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/config"
	"github.com/clauderon/clauderon/httpapi"
	"github.com/clauderon/clauderon/webui"
)

// webFlags are the daemon's web UI flags.
type webFlags struct {
	listen   string
	certFile string
	keyFile  string
}

func (f *webFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.listen, "http-listen", "", "web UI and API address (default from config http_listen, else "+config.DefaultHTTPListen+"; 0 disables it)")
	fs.StringVar(&f.certFile, "http-cert", "", "TLS certificate (PEM) for the web UI; with --http-key it serves HTTPS")
	fs.StringVar(&f.keyFile, "http-key", "", "TLS key (PEM) for --http-cert")
}

// webParts is what the web listener serves.
type webParts struct {
	sessions clauderon.SessionService
	audit    clauderon.AuditReader
	events   httpapi.EventSource
	log      *slog.Logger
}

// webSetup is the web UI's checked configuration, made before anything
// starts so that a daemon that must refuse to start does so at once.
type webSetup struct {
	addr          string // "" when disabled
	lenient       bool   // the default address: busy is a warning, not an error
	loginRequired bool
	tls           *tls.Config
	auth          *webui.Auth
}

// prepareWeb checks the web UI's settings. Off loopback it needs a login
// token: without one the daemon refuses to start.
func (m *Main) prepareWeb(cfg *config.Config) (*webSetup, error) {
	addr := m.Web.listen
	if addr == "" {
		addr = cfg.HTTPListen
	}
	if addr == "" || addr == "0" {
		return &webSetup{}, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "invalid --http-listen %q: want HOST:PORT like 127.0.0.1:3030, or 0 to disable the web UI", addr)
	}
	w := &webSetup{addr: addr, lenient: m.Web.listen == "" && addr == config.DefaultHTTPListen, loginRequired: !webui.IsLoopback(addr)}
	if (m.Web.certFile == "") != (m.Web.keyFile == "") {
		return nil, clauderon.Errorf(clauderon.EINVALID, "--http-cert and --http-key go together: give both for HTTPS, or neither")
	}
	if m.Web.certFile != "" {
		cert, err := tls.LoadX509KeyPair(m.Web.certFile, m.Web.keyFile)
		if err != nil {
			return nil, clauderon.Errorf(clauderon.EINVALID, "cannot load the web UI's TLS certificate: %v", err)
		}
		w.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	auth, err := webui.NewAuth(webui.AuthConfig{
		Token:         webui.TokenSource(m.Home, clauderon.NewSecret(cfg.Web.Token)),
		LoginRequired: w.loginRequired,
	})
	if err != nil {
		return nil, err
	}
	w.auth = auth
	return w, nil
}

// startWeb listens for the web UI, unless disabled.
func (m *Main) startWeb(w *webSetup, p webParts) error {
	if w.addr == "" {
		p.log.Info("web UI disabled")
		return nil
	}
	addr, auth, tlsCfg, loginRequired := w.addr, w.auth, w.tls, w.loginRequired
	api := httpapi.NewServer(httpapi.ServerConfig{
		Sessions: p.sessions, Audit: p.audit, Events: p.events,
		Logger: p.log, Version: version, Guard: auth.Guard,
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil && w.lenient {
		// Only the default is busy (another daemon's UI, most likely): the
		// CLI works without the UI, so say so and go on. An address the user
		// chose is a promise, and failing to keep it stops the daemon.
		p.log.Warn("web UI not started: its default address is busy; choose one with --http-listen (0 disables the UI)", "addr", addr, "err", err)
		return nil
	}
	if err != nil {
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "cannot listen for the web UI on %s: %v (pick another address with --http-listen, or 0 to disable it)", addr, err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	srv := &http.Server{
		Handler:           webui.Handler(api.Handler(), auth),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("web UI stopped", "err", err)
		}
	}()
	m.onClose(func(ctx context.Context) error {
		// The API first: it ends streams and terminals, which the HTTP
		// server's Shutdown would otherwise wait for.
		err := api.Shutdown(ctx)
		return errors.Join(err, srv.Shutdown(ctx))
	})
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	m.WebAddr = ln.Addr().String()
	p.log.Info("web UI", "url", scheme+"://"+m.WebAddr+"/", "login", loginRequired, "bundled", webui.Built)
	if loginRequired && tlsCfg == nil {
		p.log.Warn("the web UI listens beyond loopback over plain HTTP: the login token and cookie cross the network in the clear; use --http-cert/--http-key or a TLS proxy")
	}
	return nil
}

// webCmd is `clauderon web`, whose one subcommand prints the login token.
func webCmd(g *globals, io stdio) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "web",
		Short: "The web UI's login",
		Args:  cobra.NoArgs,
	}
	var rotate bool
	token := &cobra.Command{
		Use:   "token",
		Short: "Print the web UI's login token (created on first use)",
		Long: `Print the token that logs a browser in to the web UI. The daemon asks for it
when the UI listens beyond loopback (--http-listen 0.0.0.0:3030). It is kept in
$CLAUDERON_HOME/web-token (mode 600) unless [web] token is set in config.toml.
--rotate makes a new one; logins already made stay valid until they expire.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.Home()
			if err != nil {
				return err
			}
			cfg, err := loadConfig(home, nil)
			if err != nil {
				return err
			}
			if cfg.Web.Token != "" {
				if rotate {
					return clauderon.Errorf(clauderon.EINVALID, "the token is set in config.toml ([web] token): change it there")
				}
				fmt.Fprintln(io.out, cfg.Web.Token)
				return nil
			}
			tok, err := webui.EnsureToken(home, rotate)
			if err != nil {
				return err
			}
			fmt.Fprintln(io.out, tok.Reveal())
			return nil
		},
	}
	token.Flags().BoolVar(&rotate, "rotate", false, "replace the token with a new one")
	cmd.AddCommand(token)
	return cmd
}
