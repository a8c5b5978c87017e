package kube_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/kube"
)

const defaultKubeconfig = "/etc/clauderon-k8s/kubeconfigs/admin.kubeconfig"

// testCluster returns the kubeconfig of scripts/k8s/cluster.sh's cluster.
// With CLAUDERON_REQUIRE_K8S set (make test) it starts it and fails when it
// cannot; without, it skips unless the cluster is up.
func testCluster(t *testing.T) (string, kubernetes.Interface) {
	t.Helper()
	kc := os.Getenv("CLAUDERON_TEST_KUBECONFIG")
	require := os.Getenv("CLAUDERON_REQUIRE_K8S") != ""
	if kc == "" {
		kc = defaultKubeconfig
		if require {
			out, err := exec.Command("../scripts/k8s/cluster.sh", "up").Output()
			if err != nil {
				t.Fatalf("CLAUDERON_REQUIRE_K8S is set but the test cluster does not start: %v", err)
			}
			kc = strings.TrimSpace(string(out))
		}
	}
	b, err := kube.New(kube.Options{Kubeconfig: kc})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = b.Ping(ctx)
		cancel()
	}
	if err != nil {
		if require {
			t.Fatalf("CLAUDERON_REQUIRE_K8S is set but the cluster does not answer: %v", err)
		}
		t.Skipf("no Kubernetes test cluster (%v): run `sudo scripts/k8s/cluster.sh up`, or `make test`, which starts it", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	return kc, kubernetes.NewForConfigOrDie(rc)
}

// TestImageCannotBePulled: the cluster pulls nothing here, so an image it
// lacks ends in ErrImagePull, which Create turns into a clear error, and it
// leaves nothing behind.
func TestImageCannotBePulled(t *testing.T) {
	kc, cs := testCluster(t)
	ns := "ckube-" + fmt.Sprint(time.Now().UnixNano()%1e6)
	ctx := context.Background()
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		_ = cs.CoreV1().PersistentVolumes().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	dir := t.TempDir()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              ns,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := kube.New(kube.Options{Kubeconfig: kc, Namespace: ns, StorageClass: ns, ProxyURL: "http://10.88.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Create(ctx, clauderon.SessionSpec{
		Name: "nopull", Image: "clauderon-no-such-image:1", Command: []string{"claude"},
		Env: []string{"HTTPS_PROXY=http://nopull:t@host.docker.internal:1"}, ProxyHost: "host.docker.internal",
	})
	if clauderon.ErrorCode(err) != clauderon.EINVALID || !strings.Contains(clauderon.ErrorMessage(err), "cannot pull image clauderon-no-such-image:1") {
		t.Fatalf("Create with an image the cluster lacks: %v", err)
	}
	pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	cms, _ := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: clauderon.LabelSession + "=nopull"})
	pvcs, _ := cs.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if len(pods.Items)+len(cms.Items)+len(pvcs.Items) != 0 {
		t.Fatalf("a failed Create left %d pods, %d configmaps, %d claims", len(pods.Items), len(cms.Items), len(pvcs.Items))
	}
}

// TestClusterUnreachable: a kubeconfig pointing at nothing gives
// EUNAVAILABLE that says the cluster cannot be reached.
func TestClusterUnreachable(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\n" +
		"users:\n- name: u\n  user: {token: x}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n"
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := kube.New(kube.Options{Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Ping(context.Background())
	if clauderon.ErrorCode(err) != clauderon.EUNAVAILABLE || !strings.Contains(clauderon.ErrorMessage(err), "cannot be reached") {
		t.Fatalf("Ping of an unreachable cluster: %v", err)
	}
	if _, err := kube.New(kube.Options{Kubeconfig: filepath.Join(dir, "missing")}); clauderon.ErrorCode(err) != clauderon.EINVALID {
		t.Fatalf("missing kubeconfig: %v", err)
	}
}

// TestNamespaceForbidden: an identity the cluster knows but grants nothing
// gets EINVALID naming the namespace and what to grant.
func TestNamespaceForbidden(t *testing.T) {
	kc, _ := testCluster(t)
	raw, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	cur := raw.Contexts[raw.CurrentContext]
	cluster := raw.Clusters[cur.Cluster]
	caDir := filepath.Dir(cluster.CertificateAuthority)
	certPEM, keyPEM := signClient(t, filepath.Join(caDir, "ca.crt"), filepath.Join(caDir, "ca.key"), "clauderon-test-nobody")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	user := raw.AuthInfos[cur.AuthInfo]
	user.ClientCertificate, user.ClientKey = filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	user.ClientCertificateData, user.ClientKeyData = nil, nil
	nobody := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, nobody); err != nil {
		t.Fatal(err)
	}
	b, err := kube.New(kube.Options{Kubeconfig: nobody, Namespace: "clauderon-forbidden"})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Ping(context.Background())
	if clauderon.ErrorCode(err) != clauderon.EINVALID || !strings.Contains(clauderon.ErrorMessage(err), "namespace clauderon-forbidden") {
		t.Fatalf("Ping with no rights: %v", err)
	}
}

// signClient makes a client certificate for cn signed by the cluster's CA.
func signClient(t *testing.T, caCertFile, caKeyFile, cn string) ([]byte, []byte) {
	t.Helper()
	caPEM, err := os.ReadFile(caCertFile)
	if err != nil {
		t.Skipf("the cluster's CA is not readable here (%v): the forbidden-namespace test needs root on the test cluster's node", err)
	}
	keyPEM, err := os.ReadFile(caKeyFile)
	if err != nil {
		t.Skipf("the cluster's CA key is not readable here (%v)", err)
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		t.Fatal("bad CA PEM")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
