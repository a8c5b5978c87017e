package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/config"
	"github.com/clauderon/clauderon/pki"
	"github.com/clauderon/clauderon/secret"
)

// proxyFlags are the flags the daemon and `clauderon proxy` share. They add
// to the config file's keys of the same names.
type proxyFlags struct {
	listen     string
	upstreamCA []string
	resolve    []string
}

func (f *proxyFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "", "proxy address (default from config proxy_listen, else 127.0.0.1:18080)")
	fs.StringArrayVar(&f.upstreamCA, "upstream-ca", nil, "PEM file of extra roots trusted upstream (repeatable)")
	fs.StringArrayVar(&f.resolve, "resolve", nil, "HOST:PORT=ADDR: dial ADDR for HOST:PORT, like curl --resolve (repeatable)")
}

// proxyParts is everything the proxy needs besides its identity table.
type proxyParts struct {
	cfg     *config.Config
	ca      *pki.CA
	issuer  *pki.Issuer
	secrets *secret.Store
	roots   *x509.CertPool
	resolve map[string]string
	listen  string
}

// loadConfig reads $CLAUDERON_HOME/config.toml and applies the flags.
func loadConfig(home string, f *proxyFlags) (*config.Config, error) {
	cfg, err := config.Load(filepath.Join(home, config.FileName))
	if err != nil {
		return nil, err
	}
	if f != nil {
		cfg.UpstreamCA = append(cfg.UpstreamCA, f.upstreamCA...)
		cfg.Resolve = append(cfg.Resolve, f.resolve...)
		if f.listen != "" {
			cfg.ProxyListen = f.listen
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// buildProxyParts loads the CA, the credentials and the upstream settings.
func buildProxyParts(ctx context.Context, home string, f *proxyFlags) (*proxyParts, error) {
	cfg, err := loadConfig(home, f)
	if err != nil {
		return nil, err
	}
	ca, err := pki.LoadOrCreateCA(home)
	if err != nil {
		return nil, err
	}
	rules, err := cfg.RuleList()
	if err != nil {
		return nil, err
	}
	secrets := secret.NewStore(&secret.Loader{Home: home, UserRules: rules})
	if err := secrets.Load(ctx); err != nil {
		return nil, err
	}
	roots, err := upstreamRoots(cfg.UpstreamCA)
	if err != nil {
		return nil, err
	}
	resolve := map[string]string{}
	for _, r := range cfg.Resolve {
		hp, addr, err := config.ParseResolve(r)
		if err != nil {
			return nil, err
		}
		resolve[hp] = addr
	}
	return &proxyParts{
		cfg: cfg, ca: ca, issuer: pki.NewIssuer(ca, pki.IssuerOptions{}),
		secrets: secrets, roots: roots, resolve: resolve, listen: cfg.ProxyListen,
	}, nil
}

// upstreamRoots is the system pool plus the given PEM files.
func upstreamRoots(files []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, clauderon.Errorf(clauderon.EINVALID, "cannot read upstream CA %s: %v", f, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, clauderon.Errorf(clauderon.EINVALID, "upstream CA %s holds no PEM certificate", f)
		}
	}
	return pool, nil
}

// caBundle is the host's system roots followed by the proxy CA: containers
// whose TLS stack replaces its roots (SSL_CERT_FILE) still verify the hosts
// the proxy tunnels without interception.
func caBundle(caPEM []byte) []byte {
	var out []byte
	for _, f := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b...)
			if len(out) > 0 && out[len(out)-1] != '\n' {
				out = append(out, '\n')
			}
			break
		}
	}
	return append(out, caPEM...)
}

// credentialSummary describes which credentials the proxy will inject, masked.
func credentialSummary(st []secret.Status) []string {
	var out []string
	for _, s := range st {
		switch {
		case s.Err != nil:
			out = append(out, fmt.Sprintf("%s: error: %s", s.Rule, clauderon.ErrorMessage(s.Err)))
		case s.Source != "":
			line := fmt.Sprintf("%s: %s from %s", s.Rule, s.Masked, s.Source)
			if s.Warning != "" {
				line += " (warning: " + s.Warning + ")"
			}
			out = append(out, line)
		}
	}
	return out
}

// reloadOnHUP reloads the credentials on every SIGHUP until ctx ends; open
// connections keep going, and a failed reload keeps the previous set. The
// daemon and `clauderon proxy` both run it.
func reloadOnHUP(ctx context.Context, secrets *secret.Store, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			if err := secrets.Reload(context.Background()); err != nil {
				log.Error("reload credentials failed; keeping the previous ones", "err", clauderon.ErrorMessage(err))
				continue
			}
			log.Info("credentials reloaded")
			for _, line := range credentialSummary(secrets.Statuses()) {
				log.Info("credential", "detail", line)
			}
		}
	}()
}
