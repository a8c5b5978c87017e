package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

// TestDaemonRestartReconciles kills the daemon (as a crash would), changes
// containers behind its back, and checks that a new daemon keeps every
// session, gives each the status of its container, and still serves the
// running session's proxy token.
func TestDaemonRestartReconciles(t *testing.T) {
	e := newEnv(t)
	e.claim("keep", "stopme", "rmme", "done")
	d := e.startDaemon()
	for _, name := range []string{"keep", "stopme", "rmme"} {
		e.must("create", "--name", name, "--image", e.image)
	}
	e.must("create", "--print", "--name", "done", "--prompt", "x", "--image", e.image)
	d.kill()

	dockerCLI(t, "stop", "-t", "1", "clauderon-stopme")
	dockerCLI(t, "rm", "-f", "clauderon-rmme")

	e.startDaemon()
	byName := map[string]clauderon.Session{}
	var list []clauderon.Session
	if err := json.Unmarshal([]byte(e.must("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		byName[s.Name] = s
	}
	want := map[string]clauderon.SessionStatus{
		"keep": clauderon.StatusRunning, "stopme": clauderon.StatusExited,
		"rmme": clauderon.StatusFailed, "done": clauderon.StatusExited,
	}
	for name, st := range want {
		if byName[name].Status != st {
			t.Errorf("%s: status %q, want %q (%+v)", name, byName[name].Status, st, byName[name])
		}
	}
	if got := byName["rmme"].Error; !strings.Contains(got, "gone") {
		t.Errorf("rmme error %q does not say the container is gone", got)
	}

	// The running session's token survived the restart: its agent still gets
	// answers through the new daemon's proxy.
	tty, scr, _, _ := e.attach(t, "keep")
	scr.waitFor(t, "[attached to keep")
	if _, err := tty.Write([]byte("after restart\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "fake-provider says: after restart")

	// A deleted session's token stops working at once, and reconcile agrees.
	e.must("delete", "rmme")
	if out := e.must("reconcile"); !strings.Contains(out, "all sessions match") {
		t.Fatalf("reconcile after restart found more to change:\n%s", out)
	}
}

// TestErrors checks that bad input gets one clear line and changes nothing.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	e.claim("x", "dup")

	// Without a daemon, every command says how to start one.
	r := e.clauderon("list")
	if r.code == 0 || !strings.Contains(r.stderr, "daemon is not running") || !strings.Contains(r.stderr, "clauderon daemon") {
		t.Fatalf("list without daemon: %d %q", r.code, r.stderr)
	}

	e.startDaemon()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"status", "nope"}, `no session named "nope"`},
		{[]string{"attach", "nope"}, `no session named "nope"`},
		{[]string{"create", "--name", "x", "--image", "clauderon-no-such-image:1"}, "not found locally"},
		{[]string{"create", "--name", "Bad_Name", "--image", e.image}, "invalid session name"},
		{[]string{"create", "--name", "x", "--image", e.image, "--bogus"}, "unknown flag: --bogus"},
		{[]string{"create", "--name", "x", "--image", e.image, "--agent", "nope"}, "unknown agent"},
		{[]string{"create", "--name", "x", "--image", e.image, "--memory", "lots"}, "invalid memory size"},
		{[]string{"create", "--name", "x", "--image", e.image, "--repo", os.TempDir()}, "not a git repository"},
		{[]string{"status"}, "exactly one session name"},
	}
	for _, c := range cases {
		r := e.clauderon(c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("clauderon %v: exit %d, stderr %q; want it to say %q", c.args, r.code, r.stderr, c.want)
		}
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 0 {
			t.Errorf("clauderon %v: error is %d lines, want one:\n%s", c.args, n+1, r.stderr)
		}
	}
	// Failed creates left nothing behind.
	if out := e.must("list"); strings.Contains(out, "x ") {
		t.Fatalf("a failed create left a session:\n%s", out)
	}
	if err := exec.Command("docker", "inspect", "clauderon-x").Run(); err == nil {
		t.Fatal("a failed create left a container")
	}

	// Name clash.
	e.must("create", "--name", "dup", "--image", e.image)
	r = e.clauderon("create", "--name", "dup", "--image", e.image)
	if r.code == 0 || !strings.Contains(r.stderr, `session "dup" already exists`) {
		t.Fatalf("name clash: %d %q", r.code, r.stderr)
	}
	if out := e.must("status", "dup"); !strings.Contains(out, "running") {
		t.Fatalf("the clash hurt the first session:\n%s", out)
	}

	// A second daemon for the same home says who holds it.
	cmd := exec.Command(binPath, "daemon", "--home", e.home, "--listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another clauderon daemon (pid") {
		t.Fatalf("second daemon: %v\n%s", err, out)
	}
}

// TestDockerNotRunning: a daemon that cannot reach Docker says so and how to
// fix it.
func TestDockerNotRunning(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	home := t.TempDir()
	cmd := exec.Command(binPath, "daemon", "--home", home, "--listen", "127.0.0.1:0", "--docker-host", "unix://"+home+"/no-docker.sock")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("daemon started without Docker:\n%s", out)
	}
	if !strings.Contains(string(out), "Docker is not running") || !strings.Contains(string(out), "start it with") {
		t.Fatalf("unclear error:\n%s", out)
	}
}
