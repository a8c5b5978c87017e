package kube

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/clauderon/clauderon"
)

func testSpec() clauderon.SessionSpec {
	return clauderon.SessionSpec{
		Name:    "s1",
		Image:   "agent:1",
		Command: []string{"claude", "-p", "hi"},
		Env: []string{
			"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-clauderon-proxy-placeholder",
			"HTTPS_PROXY=http://s1:tok@host.docker.internal:18080",
			"http_proxy=http://s1:tok@host.docker.internal:18080",
			"NO_PROXY=localhost",
		},
		Files: []clauderon.SpecFile{
			{Path: clauderon.ContainerCAPath, Data: []byte("CA PEM"), Mode: 0o644},
			{Path: clauderon.ContainerHome + "/.claude.json", Data: []byte("{}"), Mode: 0o600, Writable: true},
		},
		HomeDir:     clauderon.ContainerHome,
		User:        "0:0",
		ProxyHost:   "host.docker.internal",
		CPUs:        1.5,
		MemoryBytes: 1 << 30,
		Labels:      map[string]string{clauderon.LabelMode: "print"},
	}
}

func testOpts() buildOptions {
	return buildOptions{namespace: "ns", workspaceSize: "1Gi", proxyURL: "http://10.88.0.1", stopTimeout: 10}
}

func TestBuildPod(t *testing.T) {
	obj, err := build(testSpec(), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	p := obj.pod
	if p.Name != "clauderon-s1" || p.Namespace != "ns" || p.Labels[clauderon.LabelSession] != "s1" || p.Labels[clauderon.LabelManaged] != "true" {
		t.Fatalf("meta: %+v", p.ObjectMeta)
	}
	sc := p.Spec.SecurityContext
	if !*sc.RunAsNonRoot || *sc.RunAsUser != sandboxUID || *sc.RunAsGroup != sandboxUID {
		t.Fatalf("root was not mapped to the sandbox user: %+v", sc)
	}
	if *p.Spec.AutomountServiceAccountToken {
		t.Fatal("the pod would get a service account token")
	}
	a := p.Spec.Containers[0]
	if *a.SecurityContext.AllowPrivilegeEscalation || a.SecurityContext.Capabilities.Drop[0] != "ALL" {
		t.Fatalf("agent security context: %+v", a.SecurityContext)
	}
	if a.TTY || a.Stdin {
		t.Fatal("print mode got a TTY")
	}
	if a.ImagePullPolicy != corev1.PullIfNotPresent || strings.Join(a.Args, " ") != "claude -p hi" {
		t.Fatalf("agent: %+v", a)
	}
	env := map[string]string{}
	for _, e := range a.Env {
		env[e.Name] = e.Value
	}
	if env["HTTPS_PROXY"] != "http://s1:tok@10.88.0.1:18080" || env["http_proxy"] != "http://s1:tok@10.88.0.1:18080" {
		t.Fatalf("proxy env not pointed at proxy_url: %q %q", env["HTTPS_PROXY"], env["http_proxy"])
	}
	if env["CLAUDE_CODE_OAUTH_TOKEN"] != "sk-ant-oat01-clauderon-proxy-placeholder" {
		t.Fatal("placeholder changed")
	}
	if got := a.Resources.Limits.Cpu().String(); got != "1500m" {
		t.Fatalf("cpu limit %s", got)
	}
	if got := a.Resources.Requests.Memory().String(); got != "1Gi" {
		t.Fatalf("memory request %s", got)
	}
	var caMount, homeMount bool
	for _, m := range a.VolumeMounts {
		caMount = caMount || (m.MountPath == clauderon.ContainerCAPath && m.ReadOnly && m.SubPath == "f0")
		homeMount = homeMount || (m.MountPath == clauderon.ContainerHome && m.SubPath == "home")
	}
	if !caMount || !homeMount {
		t.Fatalf("mounts: %+v", a.VolumeMounts)
	}
	script := p.Spec.InitContainers[0].Command[2]
	if !strings.Contains(script, "'/clauderon/data/home/.claude.json'") || strings.Contains(script, "f0") {
		t.Fatalf("setup copies the wrong files:\n%s", script)
	}
	if p.Spec.InitContainers[0].Stdin {
		t.Fatal("setup waits for a bundle without a repository")
	}
	if obj.cm.Data["f0"] != "CA PEM" || obj.pvc.Spec.StorageClassName != nil {
		t.Fatalf("configmap %v / claim class %v", obj.cm.BinaryData, obj.pvc.Spec.StorageClassName)
	}
}

func TestBuildRepoAndTTY(t *testing.T) {
	spec := testSpec()
	spec.TTY = true
	o := testOpts()
	o.branch, o.storageClass, o.proxyURL = "clauderon/s1", "fast", "http://proxy.example:3128"
	obj, err := build(spec, o)
	if err != nil {
		t.Fatal(err)
	}
	a := obj.pod.Spec.Containers[0]
	if !a.TTY || !a.Stdin {
		t.Fatal("interactive session without a TTY")
	}
	setup := obj.pod.Spec.InitContainers[0]
	if !setup.Stdin || !setup.StdinOnce {
		t.Fatal("setup does not wait for the bundle")
	}
	for _, e := range a.Env {
		if e.Name == "HTTPS_PROXY" && e.Value != "http://s1:tok@proxy.example:3128" {
			t.Fatalf("HTTPS_PROXY %q", e.Value)
		}
	}
	if *obj.pvc.Spec.StorageClassName != "fast" {
		t.Fatal("storage class not used")
	}
	tmpl := obj.pod.DeepCopy()
	noBundle(tmpl)
	raw, _ := json.Marshal(tmpl.Spec.InitContainers[0].Env)
	if strings.Contains(string(raw), "CLAUDERON_RECEIVE_BUNDLE") || tmpl.Spec.InitContainers[0].Stdin {
		t.Fatal("the restart template still waits for a bundle")
	}
}

func TestBuildErrors(t *testing.T) {
	cases := map[string]func(*clauderon.SessionSpec, *buildOptions){
		"no proxy url":          func(_ *clauderon.SessionSpec, o *buildOptions) { o.proxyURL = "" },
		"bad proxy url":         func(_ *clauderon.SessionSpec, o *buildOptions) { o.proxyURL = "socks5://x" },
		"writable outside home": func(s *clauderon.SessionSpec, _ *buildOptions) { s.Files[1].Path = "/etc/x" },
		"user name":             func(s *clauderon.SessionSpec, _ *buildOptions) { s.User = "agent" },
		"bad size":              func(_ *clauderon.SessionSpec, o *buildOptions) { o.workspaceSize = "lots" },
		"bad name":              func(s *clauderon.SessionSpec, _ *buildOptions) { s.Name = "Bad_Name" },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			s, o := testSpec(), testOpts()
			mod(&s, &o)
			_, err := build(s, o)
			if clauderon.ErrorCode(err) != clauderon.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
		})
	}
}

func TestNetworkPolicy(t *testing.T) {
	np, err := networkPolicy("ns", "http://10.88.0.1:18080")
	if err != nil {
		t.Fatal(err)
	}
	eg := np.Spec.Egress
	if len(eg) != 1 || eg[0].To[0].IPBlock.CIDR != "10.88.0.1/32" || eg[0].Ports[0].Port.IntValue() != 18080 {
		t.Fatalf("egress: %+v", eg)
	}
	if len(np.Spec.Ingress) != 0 || len(np.Spec.PolicyTypes) != 2 {
		t.Fatalf("ingress must be closed: %+v", np.Spec)
	}
	if np, err := networkPolicy("ns", "http://proxy.example"); err != nil || np != nil {
		t.Fatalf("a host name cannot be a policy: %v %v", np, err)
	}
}

func TestPodState(t *testing.T) {
	running := corev1.ContainerStatus{Name: agentContainer, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	exited := corev1.ContainerStatus{Name: agentContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3}}}
	pull := corev1.ContainerStatus{Name: setupContainer, Image: "x:1", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no registry"}}}
	cases := []struct {
		name    string
		pod     corev1.PodStatus
		running bool
		code    int
		err     string
	}{
		{"running", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running}}, true, 0, ""},
		{"exited", corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{exited}}, false, 3, ""},
		{"pending", corev1.PodStatus{Phase: corev1.PodPending}, true, 0, "pending"},
		{"image", corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{pull}}, false, exitNotStarted, "cannot pull image x:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := podState(&corev1.Pod{Status: c.pod})
			if st.Running != c.running || st.ExitCode != c.code || !strings.Contains(st.Error, c.err) {
				t.Fatalf("got %+v", st)
			}
		})
	}
}
