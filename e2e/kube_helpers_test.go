package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon/internal/testimage"
)

// The test cluster is scripts/k8s/cluster.sh's: its admin kubeconfig, and the
// pod network's gateway on the host (the cni0 bridge), where the daemon
// listens for pods.
const (
	clusterScript     = "../scripts/k8s/cluster.sh"
	defaultKubeconfig = "/etc/clauderon-k8s/kubeconfigs/admin.kubeconfig"
	kubectlPath       = "/var/lib/clauderon-k8s/bin/kubectl"
	podGateway        = "10.88.0.1"
	// pvRoot holds the hostPath volumes tests create (there is no
	// provisioner); pods run as uid 1000, so the directories are 0777.
	pvRoot = "/var/lib/clauderon-k8s-test"
)

// kubeEnv is env plus a namespace and a storage class of its own on the
// test cluster, the kube test image, and a config.toml that points the
// daemon at them.
type kubeEnv struct {
	*env
	kubeconfig string
	ns         string
	image      string
}

var (
	kubeImageOnce sync.Once
	kubeImageRef  string
	kubeImageErr  error
)

// newKubeEnv needs the test cluster: with CLAUDERON_REQUIRE_K8S set (make
// test) it starts it (or reuses it) and fails when it cannot; without, it
// skips unless the cluster is already up.
func newKubeEnv(t *testing.T, pvs int) *kubeEnv {
	t.Helper()
	e := newEnv(t)
	kc := os.Getenv("CLAUDERON_TEST_KUBECONFIG")
	require := os.Getenv("CLAUDERON_REQUIRE_K8S") != ""
	if kc == "" {
		kc = defaultKubeconfig
		if require {
			out, err := exec.Command(clusterScript, "up").Output()
			if err != nil {
				t.Fatalf("CLAUDERON_REQUIRE_K8S is set but the test cluster does not start: %v\n%s", err, stderrOf(err))
			}
			kc = strings.TrimSpace(string(out))
		}
	}
	if out, err := exec.Command(kubectlPath, "--kubeconfig", kc, "get", "--raw", "/readyz").CombinedOutput(); err != nil {
		if require {
			t.Fatalf("CLAUDERON_REQUIRE_K8S is set but the cluster does not answer: %v\n%s", err, out)
		}
		t.Skipf("no Kubernetes test cluster (%v): run `sudo scripts/k8s/cluster.sh up`, or `make test`, which starts it", err)
	}
	kubeImageOnce.Do(func() { kubeImageRef, kubeImageErr = buildKubeImage(e) })
	if kubeImageErr != nil {
		t.Fatal(kubeImageErr)
	}
	k := &kubeEnv{env: e, kubeconfig: kc, ns: "ce2e-" + randHex(4), image: kubeImageRef}
	t.Cleanup(k.cleanup)
	k.createVolumes(pvs)
	cfg := fmt.Sprintf("[kubernetes]\nnamespace = %q\nstorage_class = %q\nproxy_url = %q\nkubeconfig = %q\n",
		k.ns, k.ns, "http://"+podGateway, kc)
	if err := os.WriteFile(filepath.Join(e.home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// buildKubeImage is the test agent plus what the kube backend needs in an
// image: /bin/sh and friends (busybox) for the setup container, git for
// repositories. It is imported into the cluster's containerd.
func buildKubeImage(e *env) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	base, err := testimage.BuildWithHostTools(ctx, e.docker, "git")
	if err != nil {
		return "", err
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return "", fmt.Errorf("busybox-static is needed for the kube test image (apt-get install busybox-static): %w", err)
	}
	dockerfile := "FROM " + base + "\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range map[string][]byte{"Dockerfile": []byte(dockerfile), "busybox": bb} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return "", err
		}
		if _, err := tw.Write(data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	ref := "clauderon-testagent-kube:" + strings.SplitN(base, ":", 2)[1]
	if ok, err := e.docker.ImageExists(ctx, ref); err != nil {
		return "", err
	} else if !ok {
		if err := e.docker.BuildImage(ctx, ref, &buf); err != nil {
			return "", err
		}
	}
	if out, err := exec.CommandContext(ctx, clusterScript, "import", ref).CombinedOutput(); err != nil {
		return "", fmt.Errorf("import %s into the cluster: %v\n%s", ref, err, out)
	}
	return ref, nil
}

// createVolumes makes n hostPath PersistentVolumes of the env's storage
// class, for the sessions' claims to bind to.
func (k *kubeEnv) createVolumes(n int) {
	k.t.Helper()
	var items []string
	for i := 0; i < n; i++ {
		dir := filepath.Join(pvRoot, k.ns, fmt.Sprint(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			k.t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			k.t.Fatal(err)
		}
		items = append(items, fmt.Sprintf(`{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"%s-%d","labels":{"clauderon-test":"%s"}},
"spec":{"capacity":{"storage":"10Gi"},"accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Retain",
"storageClassName":"%s","hostPath":{"path":"%s","type":"Directory"}}}`, k.ns, i, k.ns, k.ns, dir))
	}
	list := `{"apiVersion":"v1","kind":"List","items":[` + strings.Join(items, ",") + `]}`
	cmd := exec.Command(kubectlPath, "--kubeconfig", k.kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(list)
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("create volumes: %v\n%s", err, out)
	}
}

func (k *kubeEnv) cleanup() {
	_ = exec.Command(kubectlPath, "--kubeconfig", k.kubeconfig, "delete", "namespace", k.ns, "--wait=false").Run()
	_ = exec.Command(kubectlPath, "--kubeconfig", k.kubeconfig, "delete", "pv", "-l", "clauderon-test="+k.ns, "--wait=false").Run()
	_ = os.RemoveAll(filepath.Join(pvRoot, k.ns))
}

// kubectl runs kubectl in the env's namespace and returns its stdout.
func (k *kubeEnv) kubectl(args ...string) []byte {
	k.t.Helper()
	out, err := exec.Command(kubectlPath, append([]string{"--kubeconfig", k.kubeconfig, "-n", k.ns}, args...)...).Output()
	if err != nil {
		k.t.Fatalf("kubectl %v: %v\n%s", args, err, stderrOf(err))
	}
	return out
}

// objects lists kinds of the session's objects (by its label) in the
// namespace, as names.
func (k *kubeEnv) objects(kinds, session string) []string {
	k.t.Helper()
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	out := k.kubectl("get", kinds, "-l", "clauderon.session="+session, "-o", "json")
	if err := json.Unmarshal(out, &list); err != nil {
		k.t.Fatal(err)
	}
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Kind+"/"+it.Metadata.Name)
	}
	return names
}

// scanAPIObjects fails on a canary anywhere in the namespace's pods,
// ConfigMaps and Secrets as the API server stores them, and returns that
// dump for further checks.
func (k *kubeEnv) scanAPIObjects() []byte {
	k.t.Helper()
	out := k.kubectl("get", "pods,configmaps,secrets", "-o", "json")
	if bytes.Contains(out, []byte("CANARY")) {
		k.t.Fatalf("a real credential is in the namespace's API objects:\n%s", out)
	}
	// Secret data and ConfigMap binaryData are base64 on the wire: decode
	// them, or the scan would see nothing.
	var list struct {
		Items []struct {
			Kind       string            `json:"kind"`
			Data       map[string]string `json:"data"`
			BinaryData map[string]string `json:"binaryData"`
		} `json:"items"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		k.t.Fatal(err)
	}
	for _, it := range list.Items {
		vals := it.BinaryData
		if it.Kind == "Secret" {
			vals = it.Data
		}
		for key, v := range vals {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				k.t.Fatalf("%s %s: %v", it.Kind, key, err)
			}
			if bytes.Contains(b, []byte("CANARY")) {
				k.t.Fatalf("a real credential is in %s key %s", it.Kind, key)
			}
			out = append(out, b...)
		}
	}
	return out
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// kubectlCmd is a kubectl command in the env's namespace, to run by hand.
func (k *kubeEnv) kubectlCmd(args ...string) *exec.Cmd {
	return exec.Command(kubectlPath, append([]string{"--kubeconfig", k.kubeconfig, "-n", k.ns}, args...)...)
}
