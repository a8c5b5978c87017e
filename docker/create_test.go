package docker_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
)

func TestPrintModeExitCodeAndLogs(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	spec := baseSpec(t, b, "claude", "--dangerously-skip-permissions", "--print", "--verbose", "exit:3")
	code, out := runToExit(t, b, spec)
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	// stderr, demultiplexed: no Docker stream headers in the text.
	if out != "test agent: exiting with 3 as asked\n" {
		t.Errorf("logs %q", out)
	}
}

// TestFilesEnvAndUser checks what Create places before the agent starts: the
// CA readable but not writable, a Writable settings file the agent can
// rewrite, a HOME and a /workspace and /tmp it can write to (the image is
// FROM scratch: none of them exist in it), the environment and the user.
func TestFilesEnvAndUser(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	const ca = "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"
	settings := clauderon.ContainerHome + "/.claude.json"
	spec := baseSpec(t, b, "claude", "steps",
		"id", "--",
		"env", "--",
		"cat", clauderon.ContainerCAPath, "--",
		"write", clauderon.ContainerCAPath, "tampered", "--",
		"cat", settings, "--",
		"write", settings, `{"rewritten":true}`, "--",
		"cat", settings, "--",
		"write", clauderon.ContainerHome+"/.claude/new", "x", "--",
		"write", clauderon.ContainerHome+"/new", "x", "--",
		"write", "/workspace/new", "x", "--",
		"write", "/tmp/new", "x", "--",
		"write", "/etc/new", "x",
	)
	spec.Env = []string{"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-clauderon-proxy-placeholder", "SSL_CERT_FILE=" + clauderon.ContainerCAPath}
	spec.Files = []clauderon.SpecFile{
		{Path: clauderon.ContainerCAPath, Data: []byte(ca), Mode: 0o644},
		{Path: settings, Data: []byte(`{"hasCompletedOnboarding":true}`), Mode: 0o600, Writable: true},
		{Path: clauderon.ContainerHome + "/.claude/settings.json", Data: []byte(`{}`), Mode: 0o644},
	}
	_, out := runToExit(t, b, spec)
	for _, want := range []string{
		"$ id\nuid=1000 gid=1000 home=/home/clauderon\nexit 0\n",
		"\nCLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-clauderon-proxy-placeholder\n",
		"\nHOME=/home/clauderon\n",
		"\nSSL_CERT_FILE=/etc/clauderon/proxy-ca.pem\n",
		"$ cat /etc/clauderon/proxy-ca.pem\n" + ca + "exit 0\n",
		"$ write /etc/clauderon/proxy-ca.pem tampered\ntest agent: open /etc/clauderon/proxy-ca.pem: permission denied\nexit 1\n",
		"$ cat /home/clauderon/.claude.json\n{\"hasCompletedOnboarding\":true}\nexit 0\n",
		"$ write /home/clauderon/.claude.json {\"rewritten\":true}\nwrote /home/clauderon/.claude.json\nexit 0\n",
		"$ cat /home/clauderon/.claude.json\n{\"rewritten\":true}\nexit 0\n",
		"$ write /home/clauderon/.claude/new x\nwrote /home/clauderon/.claude/new\nexit 0\n",
		"$ write /home/clauderon/new x\nwrote /home/clauderon/new\nexit 0\n",
		"$ write /workspace/new x\nwrote /workspace/new\nexit 0\n",
		"$ write /tmp/new x\nwrote /tmp/new\nexit 0\n",
		"$ write /etc/new x\ntest agent: open /etc/new: permission denied\nexit 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func TestWorkspaceAndGitDirBinds(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	work, gitDir := t.TempDir(), t.TempDir()
	// The agent runs as 1000: let it into the test's root-owned temp dirs.
	for _, d := range []string{work, gitDir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(work, "README"), []byte("from the worktree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gitDir, "HEAD"), []byte("ref: refs/heads/main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec(t, b, "claude", "steps",
		"cat", "/workspace/README", "--",
		"cat", filepath.Join(gitDir, "HEAD"), "--",
		"write", "/workspace/made-in-container", "hello host")
	spec.WorkDir, spec.GitDir = work, gitDir
	code, out := runToExit(t, b, spec)
	if code != 0 || !strings.Contains(out, "from the worktree\n") || !strings.Contains(out, "ref: refs/heads/main\n") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	got, err := os.ReadFile(filepath.Join(work, "made-in-container"))
	if err != nil || string(got) != "hello host" {
		t.Fatalf("file written in the container: %q, %v", got, err)
	}
	fi, err := os.Stat(filepath.Join(work, "made-in-container"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fileUID(fi); uid != 1000 {
		t.Errorf("file written in the container is owned by %d, want the session user 1000", uid)
	}
}

func TestNameAndLabels(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	spec := baseSpec(t, b, "claude", "--print", "exit:0")
	spec.Labels["custom"] = "yes"
	id := mustCreate(t, b, spec)
	list, err := b.List(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(c docker.Container) bool { return c.ID == id })
	if i < 0 {
		t.Fatalf("List does not have %s", id)
	}
	c := list[i]
	if c.Name != "clauderon-"+spec.Name || c.Session != spec.Name {
		t.Errorf("name %q session %q", c.Name, c.Session)
	}
	for k, v := range map[string]string{
		clauderon.LabelManaged: "true", clauderon.LabelSession: spec.Name,
		clauderon.LabelAgent: "claude", clauderon.LabelMode: "print", "custom": "yes",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
}

func TestMissingImage(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	spec := baseSpec(t, b, "claude")
	spec.Image = "clauderon-no-such-image:" + uniqueName(t)
	_, err := b.Create(testContext(t), spec)
	wantCode(t, err, clauderon.ENOTFOUND, spec.Image, "not found locally", "never pulls")
}

func TestNameClash(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	spec := baseSpec(t, b, "claude", "--print", "exit:0")
	mustCreate(t, b, spec)
	_, err := b.Create(testContext(t), spec)
	wantCode(t, err, clauderon.ECONFLICT, "clauderon-"+spec.Name, "already exists")
}

func TestInvalidSpec(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	for _, tc := range []struct {
		name string
		edit func(*clauderon.SessionSpec)
		msg  string
	}{
		{"bad session name", func(s *clauderon.SessionSpec) { s.Name = "Bad_Name" }, "invalid session name"},
		{"user by name", func(s *clauderon.SessionSpec) { s.User = "node" }, "uid:gid"},
		{"relative file", func(s *clauderon.SessionSpec) { s.Files = []clauderon.SpecFile{{Path: "etc/x"}} }, "absolute path"},
		{"file with ..", func(s *clauderon.SessionSpec) { s.Files = []clauderon.SpecFile{{Path: "/etc/../x"}} }, "absolute path"},
		{"no image", func(s *clauderon.SessionSpec) { s.Image = "" }, "--image"},
		{"missing worktree", func(s *clauderon.SessionSpec) { s.WorkDir = "/nonexistent/clauderon-worktree" }, "/nonexistent/clauderon-worktree"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec(t, b, "claude")
			tc.edit(&spec)
			_, err := b.Create(testContext(t), spec)
			wantCode(t, err, clauderon.EINVALID, tc.msg)
		})
	}
}
