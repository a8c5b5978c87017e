// Package firewall installs the host firewall rules that make the clauderon
// proxy the only thing a session container can reach.
//
// Docker's internal networks stop forwarding to other networks, but not the
// host's INPUT path: a container can still open any port on any of the
// host's own addresses (the gateway, the LAN address, link-local IPv6). So
// the daemon, when it runs as root, adds iptables and ip6tables rules for
// the sessions' bridge:
//
//	INPUT   -i BRIDGE -> CLDR-IN-BRIDGE:  established replies, then
//	                     TCP to GATEWAY:PORT from SUBNET for each daemon's
//	                     proxy port, then REJECT (TCP reset, ICMP otherwise)
//	FORWARD -i BRIDGE -> CLDR-FWD-BRIDGE: REJECT (other containers, the
//	                     outside), through DOCKER-USER when Docker has it
//	IPv6    the same chains, with no ACCEPT: the proxy is IPv4 only
//
// Several daemons may share one bridge (each with its own proxy port): each
// adds and removes only its own ACCEPT rule, and the last one out removes
// the chains. A file lock serialises them.
package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/clauderon/clauderon"
)

// Spec is what the rules protect: the sessions' bridge interface, its
// subnet and gateway, and the proxy port on the gateway.
type Spec struct {
	Bridge  string
	Subnet  netip.Prefix
	Gateway netip.Addr
	Port    int
}

func (s Spec) inChain() string  { return "CLDR-IN-" + s.Bridge }
func (s Spec) fwdChain() string { return "CLDR-FWD-" + s.Bridge }

func (s Spec) validate() error {
	if s.Bridge == "" || len(s.Bridge) > 15 || strings.ContainsAny(s.Bridge, " \t\n/") {
		return clauderon.Errorf(clauderon.EINVALID, "firewall: invalid bridge interface name %q", s.Bridge)
	}
	if !s.Subnet.IsValid() || !s.Gateway.Is4() || !s.Subnet.Contains(s.Gateway) {
		return clauderon.Errorf(clauderon.EINVALID, "firewall: gateway %v is not an IPv4 address in subnet %v", s.Gateway, s.Subnet)
	}
	if s.Port < 1 || s.Port > 65535 {
		return clauderon.Errorf(clauderon.EINVALID, "firewall: invalid proxy port %d", s.Port)
	}
	return nil
}

// ErrNoPrivilege means the rules cannot be installed: not root, or no
// iptables. The daemon runs on without them and `clauderon doctor` says so.
var ErrNoPrivilege = errors.New("host firewall rules need root and iptables")

// Rules are installed rules; Remove takes them away again.
type Rules struct {
	spec Spec
	ipt  runner
}

// runner runs iptables or ip6tables.
type runner struct {
	v4, v6 string // paths; v6 may be "" when the host has no IPv6
}

func findRunner() (runner, error) {
	if os.Geteuid() != 0 {
		return runner{}, fmt.Errorf("%w: the daemon is not running as root", ErrNoPrivilege)
	}
	v4, err := exec.LookPath("iptables")
	if err != nil {
		return runner{}, fmt.Errorf("%w: iptables not found (install it: apt-get install iptables)", ErrNoPrivilege)
	}
	r := runner{v4: v4}
	if _, err := os.Stat("/proc/net/if_inet6"); err == nil {
		v6, err := exec.LookPath("ip6tables")
		if err != nil {
			return runner{}, fmt.Errorf("%w: the host has IPv6 but ip6tables is not found (install iptables)", ErrNoPrivilege)
		}
		r.v6 = v6
	}
	return r, nil
}

// run executes one iptables command; -w waits for the xtables lock.
func (r runner) run(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-w"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// ensure adds rule to chain (insert at the top when first, else append)
// unless it is there.
func (r runner) ensure(ctx context.Context, bin, table, chain string, first bool, rule ...string) error {
	if _, err := r.run(ctx, bin, append([]string{"-t", table, "-C", chain}, rule...)...); err == nil {
		return nil
	}
	op := []string{"-t", table, "-A", chain}
	if first {
		op = []string{"-t", table, "-I", chain, "1"}
	}
	_, err := r.run(ctx, bin, append(op, rule...)...)
	return err
}

func (r runner) chainExists(ctx context.Context, bin, table, chain string) bool {
	_, err := r.run(ctx, bin, "-t", table, "-S", chain)
	return err == nil
}

func (r runner) newChain(ctx context.Context, bin, table, chain string) error {
	if r.chainExists(ctx, bin, table, chain) {
		return nil
	}
	_, err := r.run(ctx, bin, "-t", table, "-N", chain)
	return err
}

// forwardHook is where the forward chain is jumped to from: DOCKER-USER,
// which Docker evaluates first and never flushes, or FORWARD.
func (r runner) forwardHook(ctx context.Context, bin string) string {
	if r.chainExists(ctx, bin, "filter", "DOCKER-USER") {
		return "DOCKER-USER"
	}
	return "FORWARD"
}

// Install adds the rules for spec, serialised with other daemons by a
// file lock. It returns an error wrapping ErrNoPrivilege when it cannot
// run iptables at all, and any iptables failure otherwise (with the rules
// it added removed again).
func Install(ctx context.Context, spec Spec) (*Rules, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	r, err := findRunner()
	if err != nil {
		return nil, err
	}
	unlock, err := lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	rules := &Rules{spec: spec, ipt: r}
	if err := rules.install(ctx); err != nil {
		rules.remove(context.WithoutCancel(ctx))
		return nil, err
	}
	return rules, nil
}

func (rs *Rules) install(ctx context.Context) error {
	s, r := rs.spec, rs.ipt
	in, fwd := s.inChain(), s.fwdChain()
	for _, bin := range r.bins() {
		for _, c := range []string{in, fwd} {
			if err := r.newChain(ctx, bin, "filter", c); err != nil {
				return err
			}
		}
		rejectICMP := "icmp-port-unreachable"
		if bin == r.v6 {
			rejectICMP = "icmp6-port-unreachable"
		}
		if err := r.ensure(ctx, bin, "filter", in, false, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"); err != nil {
			return err
		}
		if bin == r.v4 {
			// This daemon's proxy port, before the catch-all rejects.
			if err := r.ensure(ctx, bin, "filter", in, true, rs.acceptRule()...); err != nil {
				return err
			}
		}
		if err := r.ensure(ctx, bin, "filter", in, false, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"); err != nil {
			return err
		}
		if err := r.ensure(ctx, bin, "filter", in, false, "-j", "REJECT", "--reject-with", rejectICMP); err != nil {
			return err
		}
		if err := r.ensure(ctx, bin, "filter", fwd, false, "-j", "REJECT", "--reject-with", rejectICMP); err != nil {
			return err
		}
		if err := r.ensure(ctx, bin, "filter", "INPUT", true, "-i", s.Bridge, "-j", in); err != nil {
			return err
		}
		if err := r.ensure(ctx, bin, "filter", r.forwardHook(ctx, bin), true, "-i", s.Bridge, "-j", fwd); err != nil {
			return err
		}
	}
	return nil
}

func (rs *Rules) acceptRule() []string {
	s := rs.spec
	return []string{"-s", s.Subnet.String(), "-d", s.Gateway.String(), "-p", "tcp", "--dport", strconv.Itoa(s.Port), "-j", "ACCEPT"}
}

func (r runner) bins() []string {
	if r.v6 == "" {
		return []string{r.v4}
	}
	return []string{r.v4, r.v6}
}

// Remove deletes this daemon's ACCEPT rule and, when no other daemon's
// remains, every clauderon rule and chain for the bridge.
func (rs *Rules) Remove(ctx context.Context) error {
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	return rs.remove(ctx)
}

func (rs *Rules) remove(ctx context.Context) error {
	s, r := rs.spec, rs.ipt
	var errs []error
	in, fwd := s.inChain(), s.fwdChain()
	if _, err := r.run(ctx, r.v4, append([]string{"-t", "filter", "-D", in}, rs.acceptRule()...)...); err != nil && r.chainExists(ctx, r.v4, "filter", in) {
		errs = append(errs, err)
	}
	if out, err := r.run(ctx, r.v4, "-t", "filter", "-S", in); err == nil && strings.Contains(out, "--dport") {
		return errors.Join(errs...) // another daemon still serves this bridge
	}
	for _, bin := range r.bins() {
		for _, hook := range []struct{ chain, target string }{{"INPUT", in}, {"DOCKER-USER", fwd}, {"FORWARD", fwd}} {
			for { // a crashed daemon may have left duplicates
				if _, err := r.run(ctx, bin, "-t", "filter", "-D", hook.chain, "-i", s.Bridge, "-j", hook.target); err != nil {
					break
				}
			}
		}
		for _, c := range []string{in, fwd} {
			if !r.chainExists(ctx, bin, "filter", c) {
				continue
			}
			if _, err := r.run(ctx, bin, "-t", "filter", "-F", c); err != nil {
				errs = append(errs, err)
			}
			if _, err := r.run(ctx, bin, "-t", "filter", "-X", c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Status is what `clauderon doctor` reports about a bridge.
type Status struct {
	Installed bool   // the INPUT jump and the reject rules are in place (IPv4, and IPv6 when the host has it)
	Detail    string // what is missing, or which ports are open
}

// Check inspects the rules for bridge without changing anything. It needs
// root to read the tables; without it, it returns an error wrapping
// ErrNoPrivilege.
func Check(ctx context.Context, bridge string) (Status, error) {
	r, err := findRunner()
	if err != nil {
		return Status{}, err
	}
	spec := Spec{Bridge: bridge}
	var ports []string
	for _, bin := range r.bins() {
		name := "iptables"
		if bin == r.v6 {
			name = "ip6tables"
		}
		if _, err := r.run(ctx, bin, "-t", "filter", "-C", "INPUT", "-i", bridge, "-j", spec.inChain()); err != nil {
			return Status{Detail: fmt.Sprintf("no %s INPUT rule for %s: containers can reach every port of the host", name, bridge)}, nil
		}
		out, err := r.run(ctx, bin, "-t", "filter", "-S", spec.inChain())
		if err != nil || !strings.Contains(out, "REJECT") {
			return Status{Detail: fmt.Sprintf("the %s chain %s has no REJECT rule", name, spec.inChain())}, nil
		}
		if bin == r.v4 {
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 0 && strings.Contains(line, "--dport") {
					ports = append(ports, f[len(f)-3])
				}
			}
		}
	}
	return Status{Installed: true, Detail: "only the proxy port(s) " + strings.Join(ports, ", ") + " on the gateway are reachable from " + bridge}, nil
}

// lock serialises rule changes between daemons on this host.
func lock() (func(), error) {
	f, err := os.OpenFile("/run/clauderon-firewall.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("firewall lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("firewall lock: %w", err)
	}
	return func() { f.Close() }, nil
}
