package main

import (
	"context"
	"errors"

	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/firewall"
)

// checkFirewall says plainly whether the host firewall rules that leave the
// proxy port as the only reachable thing on the host are installed for the
// sessions' bridge. Without them a container can open any port on the
// host's addresses (Docker's internal networks do not cover INPUT).
func (d *doctor) checkFirewall(ctx context.Context, dk *docker.Backend) {
	if dk == nil {
		return
	}
	info, found, err := dk.LookupNetworkInfo(ctx)
	switch {
	case err != nil:
		d.line("FAIL", "firewall", "cannot inspect the clauderon network: "+err.Error())
		return
	case !found:
		d.line("FAIL", "firewall", "the clauderon network does not exist yet — fix: start the daemon (`clauderon daemon`)")
		return
	case !info.Internal:
		d.line("FAIL", "firewall", "the clauderon network is not internal: containers can reach the outside directly — fix: restart the daemon once no session uses it (it recreates the network)")
		return
	}
	st, err := firewall.Check(ctx, info.Bridge)
	if errors.Is(err, firewall.ErrNoPrivilege) {
		d.line("FAIL", "firewall", "cannot read the host firewall ("+err.Error()+"): run doctor as root to check; the daemon installs the rules only when it runs as root")
		return
	}
	if err != nil {
		d.line("FAIL", "firewall", err.Error())
		return
	}
	if !st.Installed {
		d.line("FAIL", "firewall", "host firewall rules NOT installed: "+st.Detail+" — fix: run the daemon as root with iptables installed (apt-get install iptables)")
		return
	}
	d.line("ok", "firewall", st.Detail)
}
