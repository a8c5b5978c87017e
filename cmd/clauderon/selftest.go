package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/httpapi"
	"github.com/clauderon/clauderon/internal/attacker"
	"github.com/clauderon/clauderon/secret"
)

// selftestBait is the host name the attacker must not reach; .invalid never
// resolves, so even a broken policy sends nothing anywhere.
const selftestBait = "bait.clauderon-selftest.invalid"

func selftestCmd(g *globals, io stdio) *cobra.Command {
	var outside []string
	var dockerHost string
	var keep bool
	cmd := &cobra.Command{
		Use:   "selftest",
		Short: "Attack this installation from inside a real session container and report what got through",
		Long: `Run a hostile agent in a real session (the daemon must be running) and
print one line per attack: blocked or LEAKED. The exit status is non-zero if
anything leaked. The attacker is this binary, copied into a FROM scratch
image (nothing is pulled). Real credentials are never shown to it: it gets
their SHA-256 only, to recognise them if it finds them.

--outside ADDR:PORT adds a TCP and UDP target off this host (one you own)
that the container must not reach.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.Home()
			if err != nil {
				return err
			}
			sock, err := g.SocketPath()
			if err != nil {
				return err
			}
			st := &selftest{home: home, client: httpapi.NewClient(sock), outside: outside, keep: keep}
			return st.run(cmd.Context(), dockerHost, io)
		},
	}
	cmd.Flags().StringArrayVar(&outside, "outside", nil, "ADDR:PORT off this host the container must not reach (repeatable)")
	cmd.Flags().StringVar(&dockerHost, "docker-host", "", "Docker engine address (default DOCKER_HOST, else the local socket)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the selftest sessions afterwards (to inspect them)")
	return cmd
}

type selftest struct {
	home    string
	client  *httpapi.Client
	outside []string
	keep    bool
}

func (st *selftest) run(ctx context.Context, dockerHost string, io stdio) error {
	if _, err := st.client.Health(ctx); err != nil {
		return err
	}
	dk, err := docker.New(ctx, docker.Options{Host: dockerHost, InternalNetwork: true})
	if err != nil {
		return err
	}
	defer dk.Close()
	netInfo, found, err := dk.LookupNetworkInfo(ctx)
	if err != nil {
		return err
	}
	if !found {
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "the clauderon Docker network does not exist: start the daemon first ('clauderon daemon')")
	}
	image, err := selftestImage(ctx, dk)
	if err != nil {
		return err
	}
	hashes, credHost, err := st.secretHashes(ctx)
	if err != nil {
		return err
	}
	bait, err := startBait(netInfo.Gateway)
	if err != nil {
		return err
	}
	defer bait.close()

	id := make([]byte, 3)
	rand.Read(id)
	prefix := "selftest-" + hex.EncodeToString(id)
	victim, dead := prefix+"-victim", prefix+"-dead"
	cleanup := func(names ...string) {
		if st.keep {
			return
		}
		for _, n := range names {
			_ = st.client.Delete(context.WithoutCancel(ctx), n, true)
		}
	}
	// A live session that may reach the bait host: the attacker uses its
	// name with its own token.
	if _, err := st.client.Create(ctx, clauderon.CreateRequest{Name: victim, Image: image, Print: true,
		Prompt: `{"idle":true}`, Allow: []string{selftestBait}}); err != nil {
		return err
	}
	defer cleanup(victim)
	// A deleted session's token.
	pe, err := st.client.ProxyEnv(ctx, dead)
	if err != nil {
		return err
	}
	if err := st.client.Delete(ctx, dead, true); err != nil {
		return err
	}

	cfg := attacker.Config{
		CredHost: credHost, BaitHost: selftestBait, LoopbackName: "localhost", OtherName: victim,
		DeadToken: pe.Token, SecretHashes: hashes, Gateway: netInfo.Gateway.String(),
		DNSName: "exfil-" + hex.EncodeToString(id) + ".clauderon-selftest.invalid",
	}
	cfg.TCP, cfg.UDP = bait.targets(netInfo)
	cfg.TCP = append(cfg.TCP, netip.AddrPortFrom(netInfo.Gateway, 3030).String()) // the web UI's default port
	for _, o := range st.outside {
		cfg.TCP, cfg.UDP = append(cfg.TCP, o), append(cfg.UDP, o)
	}
	if bait.dns != nil {
		cfg.DNSServers = []string{bait.dns.LocalAddr().String()}
	}
	prompt, _ := json.Marshal(cfg)
	if _, err := st.client.Create(ctx, clauderon.CreateRequest{Name: prefix, Image: image, Print: true,
		Prompt: string(prompt), Allow: []string{"localhost"}}); err != nil {
		return err
	}
	defer cleanup(prefix)
	if _, err := st.client.Wait(ctx, prefix); err != nil {
		return err
	}
	logs, err := st.client.Logs(ctx, prefix, false)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	_, _ = out.ReadFrom(logs)
	logs.Close()

	var results []attacker.Result
	sc := bufio.NewScanner(&out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if i := strings.Index(line, attacker.LinePrefix); i >= 0 {
			var r attacker.Result
			if json.Unmarshal([]byte(line[i+len(attacker.LinePrefix):]), &r) == nil {
				results = append(results, r)
			}
		}
	}
	if len(results) == 0 {
		return clauderon.Errorf(clauderon.EINTERNAL, "the attacker reported nothing; its output:\n%s", out.String())
	}
	results = append(results, bait.results()...)
	leaked := 0
	for _, r := range results {
		verdict := "blocked"
		if !r.Blocked {
			verdict, leaked = "LEAKED", leaked+1
		}
		fmt.Fprintf(io.out, "%-7s  %s: %s\n", verdict, r.Case, r.Detail)
	}
	if leaked > 0 {
		return clauderon.Errorf(clauderon.EINTERNAL, "%d of %d attacks got through: see the LEAKED lines above and docs/SECURITY.md", leaked, len(results))
	}
	fmt.Fprintf(io.out, "all %d attacks blocked\n", len(results))
	return nil
}

// secretHashes loads the credentials the daemon would (this user's
// environment and $CLAUDERON_HOME) and returns their SHA-256, never the
// values, and a host that gets one (the default agent's provider when it
// does).
func (st *selftest) secretHashes(ctx context.Context) ([]string, string, error) {
	cfg, err := loadConfig(st.home, nil)
	if err != nil {
		return nil, "", err
	}
	rules, err := cfg.RuleList()
	if err != nil {
		return nil, "", err
	}
	store := secret.NewStore(&secret.Loader{Home: st.home, UserRules: rules})
	if err := store.Load(ctx); err != nil {
		return nil, "", err
	}
	agent, _ := clauderon.LookupAgent(cfg.DefaultAgent)
	credHost := string(agent.Hosts[0])
	var hashes []string
	for _, c := range store.Current().All() {
		sum := sha256.Sum256([]byte(c.Secret.Reveal()))
		hashes = append(hashes, hex.EncodeToString(sum[:]))
	}
	return hashes, credHost, nil
}

// selftestLabel marks the selftest's images, so that a new binary's build
// can remove the old ones.
const selftestLabel = "clauderon.selftest"

// selftestImage builds (once per binary) a FROM scratch image holding this
// executable under the agents' names. The binary must be static.
func selftestImage(ctx context.Context, dk *docker.Backend) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if f, err := elf.Open(exe); err == nil {
		interp := f.Section(".interp")
		f.Close()
		if interp != nil {
			return "", clauderon.Errorf(clauderon.EINVALID, "%s is linked dynamically and cannot run in a FROM scratch image: build it with CGO_ENABLED=0 (make build)", exe)
		}
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		return "", err
	}
	const dockerfile = "FROM scratch\nCOPY claude codex gemini /usr/local/bin/\nENV PATH=/usr/local/bin\nLABEL " + selftestLabel + "=true\n"
	sum := sha256.Sum256(append([]byte(dockerfile), bin...))
	ref := "clauderon-selftest:" + hex.EncodeToString(sum[:])[:12]
	if ok, err := dk.ImageExists(ctx, ref); err != nil || ok {
		return ref, err
	}
	files := []docker.ContextFile{{Name: "Dockerfile", Mode: 0o644, Data: []byte(dockerfile)}}
	for _, n := range []string{"claude", "codex", "gemini"} {
		files = append(files, docker.ContextFile{Name: n, Mode: 0o755, Data: bin})
	}
	buildCtx, err := docker.BuildContext(files...)
	if err != nil {
		return "", err
	}
	if err := dk.BuildImage(ctx, ref, bytes.NewReader(buildCtx)); err != nil {
		return "", err
	}
	// The image of the binary before this one is of no more use: each is
	// 3 copies of a binary, and every build makes a new one.
	if n, err := dk.RemoveOtherImages(ctx, selftestLabel, "true", ref); err != nil {
		slog.Warn("old selftest images not removed", "error", err)
	} else if n > 0 {
		slog.Debug("removed old selftest images", "count", n)
	}
	return ref, nil
}

// bait is what the host listens on for the attacker: TCP and UDP on every
// address, and a DNS server on the gateway. Anything that arrives is a leak,
// whatever the attacker believed.
type bait struct {
	tcp  net.Listener
	udp  net.PacketConn
	dns  net.PacketConn
	mu   sync.Mutex
	hits []string
	wg   sync.WaitGroup
}

func startBait(gw netip.Addr) (*bait, error) {
	b := &bait{}
	var err error
	if b.tcp, err = net.Listen("tcp", ":0"); err != nil {
		return nil, err
	}
	if b.udp, err = net.ListenPacket("udp", ":"+strconv.Itoa(b.tcp.Addr().(*net.TCPAddr).Port)); err != nil {
		if b.udp, err = net.ListenPacket("udp", ":0"); err != nil {
			b.tcp.Close()
			return nil, err
		}
	}
	// Port 53 may be taken (a local resolver): then the attacker's DNS
	// cases query the gateway anyway, and only its own view counts.
	b.dns, _ = net.ListenPacket("udp", netip.AddrPortFrom(gw, 53).String())
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := b.tcp.Accept()
			if err != nil {
				return
			}
			b.hit("TCP connection from " + c.RemoteAddr().String())
			c.Close()
		}
	}()
	for _, pc := range []net.PacketConn{b.udp, b.dns} {
		if pc == nil {
			continue
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				b.hit("UDP datagram to " + pc.LocalAddr().String() + " from " + from.String())
				pc.WriteTo(buf[:n], from) // answer, so the attacker sees it too
			}
		}()
	}
	return b, nil
}

func (b *bait) hit(s string) {
	b.mu.Lock()
	b.hits = append(b.hits, s)
	b.mu.Unlock()
}

// targets are the bait's TCP and UDP ports on every address of this host
// but loopback (which containers cannot route to): the gateway, the LAN
// address, IPv6 ones. Link-local IPv6 gets the container's interface zone.
func (b *bait) targets(n docker.NetworkInfo) (tcp, udp []string) {
	tport := b.tcp.Addr().(*net.TCPAddr).Port
	uport := b.udp.LocalAddr().(*net.UDPAddr).Port
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || ip.IsLoopback() {
			continue
		}
		ip = ip.Unmap()
		if ip.Is6() && ip.IsLinkLocalUnicast() {
			ip = ip.WithZone("eth0")
		}
		tcp = append(tcp, netip.AddrPortFrom(ip, uint16(tport)).String())
		udp = append(udp, netip.AddrPortFrom(ip, uint16(uport)).String())
	}
	return tcp, udp
}

func (b *bait) close() {
	b.tcp.Close()
	b.udp.Close()
	if b.dns != nil {
		b.dns.Close()
	}
	b.wg.Wait()
}

// results is one line per host-side observation: nothing must arrive.
func (b *bait) results() []attacker.Result {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hits) == 0 {
		return []attacker.Result{{Case: "host-side bait (TCP, UDP, DNS on the gateway)", Blocked: true, Detail: "nothing arrived"}}
	}
	return []attacker.Result{{Case: "host-side bait (TCP, UDP, DNS on the gateway)", Blocked: false, Detail: strings.Join(b.hits, "; ")}}
}
