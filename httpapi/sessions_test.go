package httpapi

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	h, err := env.client.Health(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Health{Version: "1.2.3-test", PID: os.Getpid()}); h != want {
		t.Fatalf("Health = %+v, want %+v", h, want)
	}
}

func TestCreateRoundTrip(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	ctx := testContext(t)
	req := clauderon.CreateRequest{
		Name: "fix-bug", Prompt: "fix the bug in main.go", Repo: "/src/app", Agent: "codex",
		Backend: "docker", Image: "clauderon/agent:1", Print: true, AccessMode: clauderon.AccessReadOnly,
		CPUs: 1.5, Memory: "512m", Allow: []string{"*.example.com", "api.example.org"},
	}
	got, err := env.client.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	env.svc.mu.Lock()
	arrived, stored := env.svc.lastCreate, clone(env.svc.sessions["fix-bug"])
	env.svc.mu.Unlock()
	if !reflect.DeepEqual(arrived, req) {
		t.Errorf("the service received %+v, want %+v", arrived, req)
	}
	// The token hash stays in the daemon: it is not part of the wire format.
	if stored.TokenHash == "" || got.TokenHash != "" {
		t.Errorf("TokenHash: stored %q, client got %q; want it stored and not sent", stored.TokenHash, got.TokenHash)
	}
	stored.TokenHash = ""
	if !reflect.DeepEqual(got, stored) {
		t.Errorf("Create returned\n%+v\nwant\n%+v", got, stored)
	}

	again, err := env.client.Get(ctx, "fix-bug")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Errorf("Get returned\n%+v\nwant\n%+v", again, got)
	}
	// Requests are logged at debug level with constant keys; the prompt is
	// private, so the log must not hold it.
	log := env.log.String()
	if !strings.Contains(log, `"msg":"request","method":"POST","path":"/v1/sessions","status":201`) {
		t.Errorf("the request log lacks the create:\n%s", log)
	}
	if strings.Contains(log, req.Prompt) {
		t.Errorf("the request log holds the prompt:\n%s", log)
	}
}

func TestSessionLifecycleRoutes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	ctx := testContext(t)
	env.mustCreate(t, "a")
	env.mustCreate(t, "b")

	steps := []struct {
		name string
		call func() (*clauderon.Session, error)
		want clauderon.SessionStatus
	}{
		{"stop", func() (*clauderon.Session, error) { return env.client.Stop(ctx, "a") }, clauderon.StatusExited},
		{"start", func() (*clauderon.Session, error) { return env.client.Start(ctx, "a") }, clauderon.StatusRunning},
		{"archive", func() (*clauderon.Session, error) { return env.client.Archive(ctx, "a") }, clauderon.StatusArchived},
	}
	for _, st := range steps {
		s, err := st.call()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if s.Name != "a" || s.Status != st.want {
			t.Fatalf("%s returned %s in status %s, want a in %s", st.name, s.Name, s.Status, st.want)
		}
	}

	list, err := env.client.List(ctx, clauderon.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if names := sessionNames(list); !reflect.DeepEqual(names, []string{"b"}) {
		t.Errorf("List() = %v, want [b] (a is archived)", names)
	}
	list, err = env.client.List(ctx, clauderon.SessionFilter{Archived: true})
	if err != nil {
		t.Fatal(err)
	}
	if names := sessionNames(list); !reflect.DeepEqual(names, []string{"a", "b"}) {
		t.Errorf("List(archived) = %v, want [a b]", names)
	}

	s, err := env.client.Unarchive(ctx, "a")
	if err != nil || s.Status != clauderon.StatusExited {
		t.Fatalf("Unarchive = %v, %v; want status exited", s, err)
	}
	if s.ExitCode == nil || *s.ExitCode != 0 {
		t.Errorf("ExitCode = %v, want 0 after a stop", s.ExitCode)
	}

	s, err = env.client.SetAccessMode(ctx, "b", clauderon.AccessReadOnly)
	if err != nil || s.AccessMode != clauderon.AccessReadOnly {
		t.Fatalf("SetAccessMode = %v, %v; want read-only", s, err)
	}

	list, err = env.client.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].Status != clauderon.StatusFailed || list[1].Error != "container is gone" {
		t.Errorf("Reconcile = %+v, want b failed with its reason", list)
	}

	if err := env.client.Delete(ctx, "a", true); err != nil {
		t.Fatal(err)
	}
	env.svc.mu.Lock()
	force := env.svc.lastForce
	env.svc.mu.Unlock()
	if !force {
		t.Error("Delete(force=true) arrived without force")
	}
	if err := env.client.Delete(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	env.svc.mu.Lock()
	force = env.svc.lastForce
	env.svc.mu.Unlock()
	if force {
		t.Error("Delete(force=false) arrived with force")
	}
	_, err = env.client.Get(ctx, "a")
	mustAppError(t, err, clauderon.ENOTFOUND, `session "a" not found`)

	// An empty list is an empty array on the wire, and an empty slice here.
	list, err = env.client.List(ctx, clauderon.SessionFilter{})
	if err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of nothing = %#v, %v; want an empty slice", list, err)
	}
}

func TestSetAccessModeRequiresAMode(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	_, err := env.client.SetAccessMode(testContext(t), "a", "")
	mustAppError(t, err, clauderon.EINVALID, "access_mode is required")
	_, err = env.client.SetAccessMode(testContext(t), "a", "admin")
	mustAppError(t, err, clauderon.EINVALID, `invalid access mode "admin"`)
}

func TestProxyEnvRoundTrip(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	ctx := testContext(t)
	for _, name := range []string{"by-hand", ""} {
		got, err := env.client.ProxyEnv(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		env.svc.mu.Lock()
		arrived := env.svc.lastProxyEnv
		env.svc.mu.Unlock()
		if arrived != name {
			t.Errorf("the service received name %q, want %q", arrived, name)
		}
		want, _ := env.svc.ProxyEnv(ctx, name)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ProxyEnv(%q) = %+v, want %+v", name, got, want)
		}
	}
	// curl users may leave the body out altogether.
	resp := env.raw(t, "POST", "/v1/proxy-env", "", nil, nil)
	if resp.StatusCode != 200 {
		t.Errorf("POST /v1/proxy-env without a body: status %d, want 200", resp.StatusCode)
	}
}

func TestSessionNamesAreEscaped(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	// A name with a slash must reach the service whole, not as another route.
	_, err := env.client.Get(testContext(t), "a/start")
	mustAppError(t, err, clauderon.ENOTFOUND, `session "a/start" not found`)
}

func sessionNames(list []*clauderon.Session) []string {
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	return names
}
