package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clauderon/clauderon/internal/fakeprovider"
)

// TestSelftestAllBlocked runs `clauderon selftest` against a daemon in front
// of a fake provider that echoes credentials back, with an "outside" host
// (a network namespace this test creates, on addresses it owns) that the
// container must not reach. Every case must be blocked; the outside host
// must see nothing; the real credential must appear nowhere.
func TestSelftestAllBlocked(t *testing.T) {
	e := newEnv(t)
	if os.Geteuid() != 0 {
		if os.Getenv("CLAUDERON_REQUIRE_DOCKER") != "" {
			t.Fatal("the isolation test needs root (host firewall rules, a network namespace): run `make test` as root")
		}
		t.Skip("needs root for the host firewall and a network namespace: run `make test` as root")
	}
	echo := fakeprovider.MustStart(t, fakeprovider.Config{EchoCredential: true})
	e.provider = echo
	e.caFile = filepath.Join(t.TempDir(), "echo-ca.pem")
	if err := os.WriteFile(e.caFile, echo.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := startOutside(t)
	d := e.startDaemon()
	if !strings.Contains(d.output.String(), "host firewall installed") {
		t.Fatalf("the daemon did not install the host firewall:\n%s", d.output.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "--home", e.home, "selftest", "--outside", out.addr)
	cmd.Env = e.daemonEnv("CLAUDE_CODE_OAUTH_TOKEN=" + canaryOAuth) // to hash it, as a user's shell has it
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("clauderon selftest:\n%s%s", stdout.String(), stderr.String())
	var ee *exec.ExitError
	if errors.As(err, &ee) || err != nil {
		t.Fatalf("selftest failed: %v", err)
	}
	text := stdout.String()
	if strings.Contains(text, "LEAKED") || !strings.Contains(text, "attacks blocked") {
		t.Fatal("selftest reported a leak")
	}
	for _, want := range []string{
		"proxy without a token", "deleted session's token", "another session", "port 22", "IP literal 127.0.0.1",
		"loopback", "Host header differs", "SNI differs", "smuggling", "HTTP/2", "echoes the credential",
		"redirect", "direct TCP to " + out.addr, "direct UDP to " + out.addr, "DNS", "IPv6", "secrets or private keys", "host-side bait",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("selftest ran no case about %q", want)
		}
	}
	if hits := out.hits(); len(hits) > 0 {
		t.Errorf("the outside host was reached: %v", hits)
	}
	if strings.Contains(text+stderr.String(), "CANARY") {
		t.Error("the real credential reached selftest's output")
	}
	// The echo case did reach the provider with the real credential, and
	// got the placeholder back (the attacker judged that).
	sawReal := false
	for _, r := range echo.Requests() {
		if strings.Contains(r.Authorization, canaryOAuth) {
			sawReal = true
		}
	}
	if !sawReal {
		t.Error("the echo case never reached the provider with the real credential: the leak guard was not exercised")
	}
	// Refusals are audited.
	audit := e.must("audit", "--json")
	if !strings.Contains(audit, `"decision":"denied"`) || !strings.Contains(audit, "allow list") {
		t.Errorf("no denied audit events with reasons:\n%.2000s", audit)
	}
}

// outside is a host "off this machine": a network namespace joined to the
// host by a veth pair, on 198.18.0.0/15 (RFC 2544, for tests) addresses the
// test owns, with a TCP and UDP listener recording whoever arrives.
type outside struct {
	addr string
	mu   sync.Mutex
	got  []string
}

func (o *outside) hits() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.got...)
}

func startOutside(t *testing.T) *outside {
	t.Helper()
	b := make([]byte, 2)
	rand.Read(b)
	id := hex.EncodeToString(b)
	ns, host, peer := "clr-out-"+id, "vclr"+id, "vclrp"+id
	octet := int(b[0])%200 + 20
	hostIP, nsIP := fmt.Sprintf("198.18.%d.1", octet), fmt.Sprintf("198.18.%d.2", octet)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run(); exec.Command("ip", "link", "del", host).Run() })
	run("link", "add", host, "type", "veth", "peer", "name", peer)
	run("link", "set", peer, "netns", ns)
	run("addr", "add", hostIP+"/30", "dev", host)
	run("link", "set", host, "up")
	run("-n", ns, "addr", "add", nsIP+"/30", "dev", peer)
	run("-n", ns, "link", "set", peer, "up")
	run("-n", ns, "link", "set", "lo", "up")
	run("-n", ns, "route", "add", "default", "via", hostIP)

	o := &outside{}
	type lns struct {
		tcp net.Listener
		udp net.PacketConn
		err error
	}
	ch := make(chan lns)
	go func() {
		// This thread enters the namespace and is discarded afterwards
		// (the goroutine ends locked), so no other goroutine runs there.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			ch <- lns{err: err}
			return
		}
		defer f.Close()
		if _, _, errno := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
			ch <- lns{err: errno}
			return
		}
		var l lns
		l.tcp, l.err = net.Listen("tcp", nsIP+":0")
		if l.err == nil {
			port := l.tcp.Addr().(*net.TCPAddr).Port
			l.udp, l.err = net.ListenPacket("udp", fmt.Sprintf("%s:%d", nsIP, port))
		}
		ch <- l
	}()
	l := <-ch
	if l.err != nil {
		t.Fatalf("listen in the outside namespace: %v", l.err)
	}
	t.Cleanup(func() { l.tcp.Close(); l.udp.Close() })
	o.addr = l.tcp.Addr().String()
	go func() {
		for {
			c, err := l.tcp.Accept()
			if err != nil {
				return
			}
			o.mu.Lock()
			o.got = append(o.got, "tcp from "+c.RemoteAddr().String())
			o.mu.Unlock()
			c.Close()
		}
	}()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := l.udp.ReadFrom(buf)
			if err != nil {
				return
			}
			o.mu.Lock()
			o.got = append(o.got, "udp from "+from.String())
			o.mu.Unlock()
			l.udp.WriteTo(buf[:n], from)
		}
	}()
	return o
}

// sysSetns is setns(2) on linux/amd64 (the syscall package has no name for it).
const sysSetns = 308
