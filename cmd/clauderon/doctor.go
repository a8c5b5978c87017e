package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/httpapi"
	"github.com/clauderon/clauderon/pki"
	"github.com/clauderon/clauderon/secret"
)

// probeTimeout bounds each container a check runs.
const probeTimeout = 90 * time.Second

// probeImage is the empty image the proxy check runs the clauderon binary in
// when no --image is given: FROM scratch, built locally, never pulled.
const probeImage = "clauderon-doctor-probe:1"

// errChecksFailed is doctor's exit status when a check failed; the lines
// already said which and why.
var errChecksFailed = errors.New("some checks failed (see the FAIL lines above)")

// doctor is one run of `clauderon doctor`.
type doctor struct {
	out        io.Writer
	home       string
	dockerHost string
	image      string
	failed     bool
}

// line prints one check: ok, FAIL (with the fix) or a note.
func (d *doctor) line(status, check, msg string) {
	if status == "FAIL" {
		d.failed = true
	}
	fmt.Fprintf(d.out, "%-4s  %-12s %s\n", status, check, msg)
}

func doctorCmd(g *globals, io stdio) *cobra.Command {
	d := &doctor{out: io.out}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check Docker, the CA, the credentials, the proxy and an image",
		Long: `Check what clauderon needs, one line each with the fix when it fails:
the Docker engine, the proxy CA, each credential (masked, with its source, as
this shell's environment and $CLAUDERON_HOME/secrets have them), the proxy as
a container reaches it (needs the daemon), and with --image, whether that
image's TLS stack trusts the proxy CA (a TLS handshake through the proxy from
inside the image). Exits non-zero when a check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.Home()
			if err != nil {
				return err
			}
			d.home = home
			d.run(cmd.Context())
			if d.failed {
				return errChecksFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&d.image, "image", "", "also check that this local image trusts the proxy CA")
	cmd.Flags().StringVar(&d.dockerHost, "docker-host", "", "Docker engine address (default DOCKER_HOST, else the local socket)")
	return cmd
}

func (d *doctor) run(ctx context.Context) {
	dk := d.checkDocker(ctx)
	if dk != nil {
		defer dk.Close()
	}
	d.checkCA()
	probeHost := d.checkCredentials(ctx)
	if dk == nil {
		d.line("FAIL", "proxy", "not checked: Docker is not reachable (see above)")
		return
	}
	client := httpapi.NewClient(filepath.Join(d.home, "clauderon.sock"))
	if _, err := client.Health(ctx); err != nil {
		d.line("FAIL", "proxy", "daemon not running: start it with `clauderon daemon` (or `make run`), then run doctor again")
		return
	}
	d.checkProxy(ctx, dk, client, probeHost)
	d.checkFirewall(ctx, dk)
	if d.image != "" {
		d.checkImage(ctx, dk, client, probeHost)
	}
}

func (d *doctor) checkDocker(ctx context.Context) *docker.Backend {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dk, err := docker.New(pctx, docker.Options{Host: d.dockerHost})
	if err != nil {
		d.line("FAIL", "docker", clauderon.ErrorMessage(err)+" — fix: start it (`sudo systemctl start docker`, or scripts/ensure-docker.sh)")
		return nil
	}
	d.line("ok", "docker", "engine reachable")
	return dk
}

// checkCA: the CA certificate parses and its key is readable by its owner
// only. Doctor never creates the CA; the daemon does on its first start.
func (d *doctor) checkCA() {
	certPath, keyPath := filepath.Join(d.home, pki.CertFile), filepath.Join(d.home, pki.KeyFile)
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		d.line("FAIL", "ca", certPath+" does not exist — fix: start the daemon once (`clauderon daemon`); it creates the CA")
		return
	}
	if err != nil {
		d.line("FAIL", "ca", "cannot read "+certPath+": "+err.Error())
		return
	}
	block, _ := pem.Decode(certPEM)
	var cert *x509.Certificate
	if block != nil {
		cert, err = x509.ParseCertificate(block.Bytes)
	}
	if block == nil || err != nil {
		d.line("FAIL", "ca", certPath+" is not a PEM certificate — fix: move it and the key away; the daemon makes a new CA")
		return
	}
	if time.Now().After(cert.NotAfter) {
		d.line("FAIL", "ca", fmt.Sprintf("%s expired on %s — fix: move it and the key away; the daemon makes a new CA", certPath, cert.NotAfter.Format(time.DateOnly)))
		return
	}
	fi, err := os.Stat(keyPath)
	if err != nil {
		d.line("FAIL", "ca", "key "+keyPath+": "+err.Error()+" — fix: move the certificate away too; the daemon makes a new CA")
		return
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		d.line("FAIL", "ca", fmt.Sprintf("key %s is readable by others (mode %04o) — fix: chmod 600 %s", keyPath, perm, keyPath))
		return
	}
	d.line("ok", "ca", fmt.Sprintf("%s valid until %s, key private (0600)", certPath, cert.NotAfter.Format(time.DateOnly)))
}

// checkCredentials prints each rule's credential, masked, with its source.
// It returns a host whose credential is set, for the TLS probes: the proxy
// intercepts it, so the handshake proves trust in the proxy CA.
func (d *doctor) checkCredentials(ctx context.Context) string {
	cfg, err := loadConfig(d.home, nil)
	if err != nil {
		d.line("FAIL", "config", clauderon.ErrorMessage(err))
		return ""
	}
	rules, err := cfg.RuleList()
	if err != nil {
		d.line("FAIL", "config", clauderon.ErrorMessage(err))
		return ""
	}
	set, statuses, _ := (&secret.Loader{Home: d.home, UserRules: rules}).Load(ctx)
	haveOne := false
	for _, s := range statuses {
		switch {
		case s.Err != nil:
			d.line("FAIL", "credential", s.Rule+": "+clauderon.ErrorMessage(s.Err))
		case s.Set():
			haveOne = true
			msg := s.Rule + ": " + s.Masked + " from " + s.Source
			if s.Warning != "" {
				d.line("warn", "credential", msg+" ("+s.Warning+")")
			} else {
				d.line("ok", "credential", msg)
			}
		default:
			d.line("-", "credential", s.Rule+": not set")
		}
	}
	if !haveOne {
		d.line("FAIL", "credential", "no credential is set — fix: export CLAUDE_CODE_OAUTH_TOKEN (or ANTHROPIC_API_KEY, OPENAI_API_KEY, GEMINI_API_KEY) where the daemon starts")
	}
	if set != nil {
		for _, c := range set.All() {
			for _, h := range c.Rule.Hosts {
				if !strings.Contains(string(h), "*") {
					return string(h)
				}
			}
		}
	}
	return "api.anthropic.com"
}

// mintProxyEnv asks the daemon for a throwaway token and the docker run
// arguments that route a container through the proxy; the returned func
// revokes it.
func (d *doctor) mintProxyEnv(ctx context.Context, client *httpapi.Client) ([]string, func(), error) {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	pe, err := client.ProxyEnv(ctx, "doctor-"+hex.EncodeToString(b))
	if err != nil {
		return nil, func() {}, err
	}
	return pe.Args, func() { _ = client.Delete(context.WithoutCancel(ctx), pe.Session, true) }, nil
}

// checkProxy runs this clauderon binary in an empty container on the
// clauderon network: it connects to the proxy with a throwaway token and
// completes a TLS handshake with the proxy's certificate for host.
func (d *doctor) checkProxy(ctx context.Context, dk *docker.Backend, client *httpapi.Client, host string) {
	exe, err := os.Executable()
	if err != nil {
		d.line("FAIL", "proxy", "cannot find this program to run in a container: "+err.Error())
		return
	}
	ok, err := dk.ImageExists(ctx, probeImage)
	if err == nil && !ok {
		var buildCtx []byte
		if buildCtx, err = probeContext(); err == nil {
			err = dk.BuildImage(ctx, probeImage, bytes.NewReader(buildCtx))
		}
	}
	if err != nil {
		d.line("FAIL", "proxy", "cannot build the probe image: "+clauderon.ErrorMessage(err))
		return
	}
	args, revoke, err := d.mintProxyEnv(ctx, client)
	defer revoke()
	if err != nil {
		d.line("FAIL", "proxy", "cannot mint a token: "+clauderon.ErrorMessage(err))
		return
	}
	run := append([]string{"run", "--rm"}, args...)
	run = append(run, "-v", exe+":/clauderon:ro", "--entrypoint", "/clauderon", probeImage, "doctor-probe", host)
	out, err := dockerRun(ctx, run)
	if err != nil {
		d.line("FAIL", "proxy", "a container cannot use the proxy: "+lastLine(out, err)+" — fix: check `clauderon daemon`'s log and that its proxy listens where containers reach it (proxy_listen)")
		return
	}
	d.line("ok", "proxy", "reachable from a container: "+lastLine(out, nil))
}

// imageProbe runs in the checked image: a TLS handshake (or a request)
// through the proxy with the first client the image has, trusting what the
// session environment tells it to trust. It prints "trusted by CLIENT" or
// the client's error.
const imageProbe = `host=$1
js='const u=new URL(process.env.HTTPS_PROXY),http=require("http"),tls=require("tls");
const a="Basic "+Buffer.from(decodeURIComponent(u.username)+":"+decodeURIComponent(u.password)).toString("base64");
http.request({host:u.hostname,port:u.port,method:"CONNECT",path:process.argv[1]+":443",headers:{"Proxy-Authorization":a}})
.on("connect",(r,s)=>{if(r.statusCode!==200){console.log("CONNECT answered "+r.statusCode);process.exit(1)}
const t=tls.connect({socket:s,servername:process.argv[1]},()=>{console.log("trusted by "+process.argv[2]);t.end();process.exit(0)});
t.on("error",e=>{console.log(process.argv[2]+": "+e.message);process.exit(1)})})
.on("error",e=>{console.log("proxy: "+e.message);process.exit(1)}).end()'
if command -v node >/dev/null 2>&1; then exec node -e "$js" "$host" "node (NODE_EXTRA_CA_CERTS)"; fi
if command -v curl >/dev/null 2>&1; then
  curl -sS -o /dev/null --max-time 30 "https://$host/" && { echo "trusted by curl (CURL_CA_BUNDLE)"; exit 0; }; exit 1
fi
if command -v git >/dev/null 2>&1; then
  out=$(git ls-remote "https://$host/clauderon-doctor" 2>&1)
  case $out in *certificate*|*SSL*|*TLS*) echo "git: $out"; exit 1;; esac
  echo "trusted by git (GIT_SSL_CAINFO)"; exit 0
fi
echo "the image has no node, curl or git to test with"; exit 1`

// checkImage runs imageProbe in the user's image as a session would run it.
func (d *doctor) checkImage(ctx context.Context, dk *docker.Backend, client *httpapi.Client, host string) {
	ok, err := dk.ImageExists(ctx, d.image)
	if err != nil || !ok {
		d.line("FAIL", "image", d.image+" is not a local image — fix: build it (scripts/build-agent-image.sh, or docker build); clauderon never pulls")
		return
	}
	args, revoke, err := d.mintProxyEnv(ctx, client)
	defer revoke()
	if err != nil {
		d.line("FAIL", "image", "cannot mint a token: "+clauderon.ErrorMessage(err))
		return
	}
	run := append([]string{"run", "--rm", "--user", "1000:1000"}, args...)
	run = append(run, "--entrypoint", "sh", d.image, "-c", imageProbe, "probe", host)
	out, err := dockerRun(ctx, run)
	if err != nil {
		d.line("FAIL", "image", d.image+" does not trust the proxy CA through "+host+": "+lastLine(out, err)+
			" — fix: make its TLS stack read NODE_EXTRA_CA_CERTS or SSL_CERT_FILE (see README, Supported agents)")
		return
	}
	d.line("ok", "image", d.image+": "+lastLine(out, nil)+" for "+host)
}

// dockerRun runs the docker CLI (the arguments are `docker run` ones, as
// `clauderon proxy-env` prints them) and returns its combined output.
func dockerRun(ctx context.Context, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return string(out), err
}

// lastLine is the last non-empty line of out, else err.
func lastLine(out string, err error) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	if last == "" && err != nil {
		return err.Error()
	}
	return last
}

// probeContext is the build context of probeImage: FROM scratch and an
// empty marker file (the binary is mounted at run time).
func probeContext() ([]byte, error) {
	return docker.BuildContext(
		docker.ContextFile{Name: "Dockerfile", Mode: 0o644, Data: []byte("FROM scratch\nCOPY probe /etc/clauderon-doctor-probe\nLABEL clauderon.doctor=true\n")},
		docker.ContextFile{Name: "probe", Mode: 0o644},
	)
}

// doctorProbeCmd is what checkProxy runs inside the container: CONNECT to
// the proxy from HTTPS_PROXY with its credentials, then a TLS handshake for
// host that trusts SSL_CERT_FILE only. No request goes upstream.
func doctorProbeCmd(io stdio) *cobra.Command {
	return &cobra.Command{
		Use:    "doctor-probe HOST",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			msg, err := probeProxy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(io.out, msg)
			return nil
		},
	}
}

func probeProxy(ctx context.Context, host string) (string, error) {
	pu, err := url.Parse(os.Getenv("HTTPS_PROXY"))
	if err != nil || pu.Host == "" {
		return "", fmt.Errorf("HTTPS_PROXY is not a proxy URL")
	}
	roots := x509.NewCertPool()
	if b, err := os.ReadFile(os.Getenv("SSL_CERT_FILE")); err != nil || !roots.AppendCertsFromPEM(b) {
		return "", fmt.Errorf("SSL_CERT_FILE %q holds no certificate", os.Getenv("SSL_CERT_FILE"))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", pu.Host)
	if err != nil {
		return "", fmt.Errorf("cannot reach the proxy at %s: %v", pu.Host, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	pass, _ := pu.User.Password()
	auth := base64.StdEncoding.EncodeToString([]byte(pu.User.Username() + ":" + pass))
	fmt.Fprintf(conn, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\nProxy-Authorization: Basic %s\r\n\r\n", host, host, auth)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return "", fmt.Errorf("the proxy at %s did not answer CONNECT: %v", pu.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the proxy at %s answered CONNECT with %s", pu.Host, resp.Status)
	}
	tc := tls.Client(conn, &tls.Config{ServerName: host, RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err := tc.HandshakeContext(ctx); err != nil {
		return "", fmt.Errorf("TLS through the proxy for %s: %v", host, err)
	}
	issuer := tc.ConnectionState().PeerCertificates[0].Issuer.CommonName
	return fmt.Sprintf("proxy at %s, TLS for %s verified (issuer %q)", pu.Host, host, issuer), nil
}
