package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

// TestKubePrintSession is TestPrintSessionEndToEnd on Kubernetes: the agent
// runs in a pod, reaches the fake provider through the daemon's proxy and
// prints its answer; the provider saw the real token; the pod spec, the
// ConfigMaps and the Secrets of the namespace hold none; delete leaves
// nothing behind.
func TestKubePrintSession(t *testing.T) {
	k := newKubeEnv(t, 2)
	k.startDaemon()

	r := k.clauderon("create", "--backend", "kubernetes", "--print", "--name", "kp1", "--prompt", "say hello", "--image", k.image)
	if r.code != 0 || !strings.Contains(r.stdout, "fake-provider says: say hello") {
		t.Fatalf("create --print on kubernetes: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	var calls int
	for _, req := range k.provider.Requests() {
		if req.Path != "/v1/messages" {
			continue
		}
		calls++
		if req.Authorization != "Bearer "+canaryOAuth {
			t.Errorf("provider got Authorization %q", req.Authorization)
		}
	}
	if calls != 1 {
		t.Fatalf("provider saw %d model calls, want 1", calls)
	}

	// What the API server holds: placeholders, the CA certificate, never a
	// credential, never the CA key.
	dump := k.scanAPIObjects()
	for _, want := range []string{"sk-ant-oat01-clauderon-proxy-placeholder", "BEGIN CERTIFICATE", `"runAsNonRoot": true`, `"allowPrivilegeEscalation": false`, `"clauderon.session": "kp1"`} {
		if !bytes.Contains(dump, []byte(want)) {
			t.Errorf("the namespace's objects lack %q", want)
		}
	}
	if bytes.Contains(dump, []byte("PRIVATE KEY")) {
		t.Fatal("a private key is in the namespace's objects")
	}
	caKey, err := os.ReadFile(filepath.Join(k.home, "proxy-ca-key.pem"))
	if err == nil && bytes.Contains(dump, bytes.TrimSpace(caKey)) {
		t.Fatal("the proxy CA key is in the namespace's objects")
	}
	if secrets := k.kubectl("get", "secrets", "-o", "name"); len(bytes.TrimSpace(secrets)) != 0 {
		t.Fatalf("the backend made Secrets: %s", secrets)
	}

	var list []clauderon.Session
	if err := json.Unmarshal([]byte(k.must("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Backend != "kubernetes" || list[0].Status != clauderon.StatusExited || list[0].ExitCode == nil || *list[0].ExitCode != 0 {
		t.Fatalf("list: %+v", list)
	}
	if out := k.must("logs", "kp1"); !strings.Contains(out, "fake-provider says: say hello") {
		t.Fatalf("logs: %q", out)
	}

	// The agent's exit code comes back.
	r = k.clauderon("create", "--backend", "kubernetes", "--print", "--name", "kp2", "--prompt", "exit:3", "--image", k.image)
	if r.code != 3 {
		t.Fatalf("exit code: got %d want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	for _, s := range []string{"kp1", "kp2"} {
		if got := k.objects("pods,configmaps,persistentvolumeclaims", s); len(got) != 3 {
			t.Fatalf("session %s has objects %v, want a pod, a configmap and a claim", s, got)
		}
		k.must("delete", s)
		if got := k.objects("pods,configmaps,persistentvolumeclaims", s); len(got) != 0 {
			t.Fatalf("delete left %v behind", got)
		}
	}
}

// TestKubeInteractiveAttach: an interactive pod, attached through a
// pseudo-terminal; the agent's answer comes from the provider through the
// proxy; the terminal size reaches the pod.
func TestKubeInteractiveAttach(t *testing.T) {
	k := newKubeEnv(t, 1)
	k.startDaemon()
	k.must("create", "--backend", "kubernetes", "--name", "ki1", "--prompt", "first question", "--image", k.image)

	tty, scr, _, done := k.attach(t, "ki1")
	scr.waitFor(t, "[attached to ki1")
	if _, err := tty.Write([]byte("/size\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "100x30")
	if _, err := tty.Write([]byte("second question\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "fake-provider says: second question")
	if _, err := tty.Write([]byte{0x10, 0x11}); err != nil { // detach
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("attach did not end on the detach keys:\n%s", scr.String())
	}
	if out := k.must("status", "ki1"); !strings.Contains(out, "running") {
		t.Fatalf("session not running after detach:\n%s", out)
	}
	k.scanAPIObjects()

	// Stop deletes the pod but keeps the workspace; start brings it back.
	k.must("stop", "ki1")
	if got := k.objects("pods", "ki1"); len(got) != 0 {
		t.Fatalf("stop left pods %v", got)
	}
	if out := k.must("status", "ki1"); !strings.Contains(out, "exited") {
		t.Fatalf("status after stop:\n%s", out)
	}
	k.must("start", "ki1")
	k.askAndExit(t, "ki1", "after restart")
	waitStatus(t, k.env, "ki1", clauderon.StatusExited)
	k.must("delete", "ki1")
	if got := k.objects("pods,configmaps,persistentvolumeclaims", "ki1"); len(got) != 0 {
		t.Fatalf("delete left %v behind", got)
	}
}

// TestKubeRestartReconcile is TestDaemonRestartReconciles on Kubernetes:
// the daemon dies, a pod is deleted behind its back; the new daemon keeps
// every session, reports the deleted one failed, the finished one exited,
// and the running one's agent still gets answers through the new proxy.
func TestKubeRestartReconcile(t *testing.T) {
	k := newKubeEnv(t, 3)
	d := k.startDaemon()
	k.must("create", "--backend", "kubernetes", "--name", "keep", "--image", k.image)
	k.must("create", "--backend", "kubernetes", "--name", "rmme", "--image", k.image)
	k.must("create", "--backend", "kubernetes", "--print", "--name", "done", "--prompt", "x", "--image", k.image)
	d.kill()
	k.kubectl("delete", "pod", "clauderon-rmme", "--wait=true")

	k.startDaemon()
	var list []clauderon.Session
	if err := json.Unmarshal([]byte(k.must("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]clauderon.Session{}
	for _, s := range list {
		byName[s.Name] = s
	}
	want := map[string]clauderon.SessionStatus{"keep": clauderon.StatusRunning, "rmme": clauderon.StatusFailed, "done": clauderon.StatusExited}
	for name, st := range want {
		if byName[name].Status != st {
			t.Errorf("%s: status %q, want %q (%+v)", name, byName[name].Status, st, byName[name])
		}
	}
	if got := byName["rmme"].Error; !strings.Contains(got, "gone") {
		t.Errorf("rmme error %q does not say the pod is gone", got)
	}
	tty, scr, _, _ := k.attach(t, "keep")
	scr.waitFor(t, "[attached to keep")
	if _, err := tty.Write([]byte("after restart\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "fake-provider says: after restart")
	for _, s := range []string{"keep", "rmme", "done"} {
		k.must("delete", s)
		if got := k.objects("pods,configmaps,persistentvolumeclaims", s); len(got) != 0 {
			t.Fatalf("delete of %s left %v behind", s, got)
		}
	}
	if out := k.must("reconcile"); !strings.Contains(out, "all sessions match") {
		t.Fatalf("reconcile after restart found more to change:\n%s", out)
	}
}

// TestKubeRepositoryPull: the repository reaches the pod as a git bundle
// (no host credential, no host mount); a commit the agent makes there comes
// back with `clauderon pull`, and the workspace survives stop and start.
func TestKubeRepositoryPull(t *testing.T) {
	k := newKubeEnv(t, 1)
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(repo, "README"), []byte("hello from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "add", ".")
	git(t, repo, "-c", "user.email=u@example.com", "-c", "user.name=user", "commit", "-qm", "first")
	k.startDaemon()
	k.must("create", "--backend", "kubernetes", "--name", "kg1", "--repo", repo, "--image", k.image)

	out := k.kubectl("exec", "clauderon-kg1", "-c", "agent", "--", "claude", "steps",
		"cat", "/workspace/README", "--",
		"write", "/workspace/agent.txt", "written in the pod", "--",
		"run", "git", "-C", "/workspace", "add", "agent.txt", "--",
		"run", "git", "-C", "/workspace", "-c", "user.email=agent@example.com", "-c", "user.name=agent", "commit", "-qm", "agent commit")
	if !strings.Contains(string(out), "hello from the host") || strings.Contains(string(out), "exit 1") {
		t.Fatalf("agent steps in the pod:\n%s", out)
	}
	if got := k.must("pull", "kg1"); !strings.Contains(got, "clauderon/kg1") {
		t.Fatalf("pull: %s", got)
	}
	if got := git(t, repo, "log", "-1", "--format=%s", "clauderon/kg1"); got != "agent commit" {
		t.Fatalf("branch clauderon/kg1 after pull: %q", got)
	}
	if got := git(t, repo, "show", "clauderon/kg1:agent.txt"); got != "written in the pod" {
		t.Fatalf("pulled file: %q", got)
	}

	// The workspace lives in the claim: it survives the pod.
	k.must("stop", "kg1")
	k.must("start", "kg1")
	out = k.kubectl("exec", "clauderon-kg1", "-c", "agent", "--", "claude", "cat", "/workspace/agent.txt")
	if !strings.Contains(string(out), "written in the pod") {
		t.Fatalf("workspace after restart: %q", out)
	}
	// Pull works from a stopped session too (a helper pod mounts the claim).
	k.must("stop", "kg1")
	if got := k.must("pull", "kg1"); !strings.Contains(got, "clauderon/kg1") {
		t.Fatalf("pull of a stopped session: %s", got)
	}
	k.scanAPIObjects()
	k.must("delete", "--force", "kg1")
	if got := k.objects("pods,configmaps,persistentvolumeclaims", "kg1"); len(got) != 0 {
		t.Fatalf("delete left %v behind", got)
	}
}

// TestKubeDaemonWithoutDocker: with kubernetes as the default backend, a
// daemon with no Docker engine to talk to (in the cluster itself, say)
// starts anyway and runs sessions as pods; docker sessions and proxy-env say
// why they are unavailable.
func TestKubeDaemonWithoutDocker(t *testing.T) {
	k := newKubeEnv(t, 1)
	conf := filepath.Join(k.home, "config.toml")
	old, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, append([]byte("default_backend = \"kubernetes\"\n"), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	k.daemonArgs = append(k.daemonArgs, "--docker-host", "unix://"+k.home+"/no-docker.sock")
	d := k.startDaemon()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(d.output.String(), "Docker is not available"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) { // (its log reaches the buffer through a pipe)
			t.Errorf("the daemon did not say it runs without Docker:\n%s", d.output.String())
			break
		}
	}

	r := k.clauderon("create", "--print", "--name", "kd1", "--prompt", "no docker here", "--image", k.image)
	if r.code != 0 || !strings.Contains(r.stdout, "fake-provider says: no docker here") {
		t.Fatalf("create --print without Docker: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if out := k.must("status", "kd1"); !strings.Contains(out, "kubernetes") {
		t.Errorf("the session is not on the kubernetes backend:\n%s", out)
	}
	r = k.clauderon("create", "--backend", "docker", "--print", "--name", "kd2", "--prompt", "x", "--image", k.image)
	if r.code == 0 || !strings.Contains(r.stderr, `backend "docker" is not available`) {
		t.Errorf("a docker session without Docker: exit %d, stderr %q", r.code, r.stderr)
	}
	r = k.clauderon("proxy-env")
	if r.code == 0 || !strings.Contains(r.stderr, "proxy-env is not available") {
		t.Errorf("proxy-env without Docker: exit %d, stderr %q", r.code, r.stderr)
	}
	k.must("delete", "kd1")
}
