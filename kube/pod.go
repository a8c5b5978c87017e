package kube

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clauderon/clauderon"
)

// Names of the pod's parts, and where the setup init container sees them.
const (
	agentContainer = "agent"
	setupContainer = "setup"
	dataVolume     = "data"  // the claim: workspace/ and home/
	filesVolume    = "files" // the ConfigMap's files
	tmpVolume      = "tmp"
	setupData      = "/clauderon/data"
	setupFiles     = "/clauderon/files"
	// templateKey is the ConfigMap key holding the pod, for Start.
	templateKey = "pod.json"
	// logsKey holds the agent's output saved by Stop (pods take their logs
	// with them).
	logsKey = "logs"
	// stoppedAnnotation on the ConfigMap marks a session stopped by Stop;
	// its value is the agent's exit code.
	stoppedAnnotation = "clauderon.stopped-exit-code"
	// sandboxUID is who agents run as when the spec asks for root: pods
	// never run as root, and the workspace lives in the claim, not in a
	// host directory whose owner matters.
	sandboxUID = 1000
	// maxSavedLogs bounds the output Stop keeps (ConfigMaps hold 1 MiB).
	maxSavedLogs = 512 << 10
)

// objectName is the name of a session's pod, ConfigMap and claim.
func objectName(session string) string { return "clauderon-" + session }

// splitID reads "NAMESPACE/POD".
func splitID(id string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(id, "/")
	if !ok || ns == "" || name == "" {
		return "", "", clauderon.Errorf(clauderon.EINVALID, "invalid Kubernetes session id %q: want NAMESPACE/POD", id)
	}
	return ns, name, nil
}

// objects are what a session consists of in the cluster.
type objects struct {
	pod *corev1.Pod
	cm  *corev1.ConfigMap
	pvc *corev1.PersistentVolumeClaim
}

// buildOptions are the per-session facts that are not in the spec.
type buildOptions struct {
	namespace     string
	storageClass  string
	workspaceSize string
	proxyURL      string
	stopTimeout   int64
	branch        string // the session branch the bundle carries; "" without a repository
}

// build turns a spec into the session's objects. It is pure: the tests read
// what it makes.
func build(spec clauderon.SessionSpec, o buildOptions) (objects, error) {
	if err := clauderon.ValidateSessionName(spec.Name); err != nil {
		return objects{}, err
	}
	if spec.Image == "" {
		return objects{}, clauderon.Errorf(clauderon.EINVALID, "no image for session %s", spec.Name)
	}
	uid, gid, err := podUser(spec.User)
	if err != nil {
		return objects{}, err
	}
	env, err := rewriteProxyEnv(spec.Env, spec.ProxyHost, o.proxyURL)
	if err != nil {
		return objects{}, err
	}
	home := spec.HomeDir
	if home == "" {
		home = clauderon.ContainerHome
	}
	home = path.Clean(home)
	name := objectName(spec.Name)
	labels := map[string]string{clauderon.LabelManaged: "true", clauderon.LabelSession: spec.Name}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	meta := metav1.ObjectMeta{Name: name, Namespace: o.namespace, Labels: labels}

	cm := &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{}, BinaryData: map[string][]byte{}}
	var items []corev1.KeyToPath
	var fileMounts []corev1.VolumeMount
	var copies []string
	for i, f := range spec.Files {
		p := path.Clean(f.Path)
		if !path.IsAbs(p) || p == "/" {
			return objects{}, clauderon.Errorf(clauderon.EINVALID, "file path %q must be absolute", f.Path)
		}
		key := "f" + strconv.Itoa(i)
		if utf8.Valid(f.Data) {
			cm.Data[key] = string(f.Data) // readable with kubectl, and by scans
		} else {
			cm.BinaryData[key] = f.Data
		}
		mode := int32(f.Mode & 0o777)
		items = append(items, corev1.KeyToPath{Key: key, Path: key, Mode: &mode})
		if !f.Writable {
			fileMounts = append(fileMounts, corev1.VolumeMount{Name: filesVolume, MountPath: p, SubPath: key, ReadOnly: true})
			continue
		}
		rel, ok := strings.CutPrefix(p, home+"/")
		if !ok {
			return objects{}, clauderon.Errorf(clauderon.EINVALID, "writable file %s must be under the agent's home %s on Kubernetes", p, home)
		}
		dst := setupData + "/home/" + rel
		copies = append(copies, fmt.Sprintf("[ -e %s ] || { mkdir -p %s; cat %s > %s; chmod %o %s; }",
			shq(dst), shq(path.Dir(dst)), shq(setupFiles+"/"+key), shq(dst), f.Mode&0o777, shq(dst)))
	}

	res, err := resources(spec.CPUs, spec.MemoryBytes)
	if err != nil {
		return objects{}, err
	}
	hardened := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		Privileged:               ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	receive := o.branch != ""
	setupEnv := []corev1.EnvVar{{Name: "HOME", Value: setupData + "/home"}}
	if receive {
		setupEnv = append(setupEnv,
			corev1.EnvVar{Name: "CLAUDERON_BRANCH", Value: o.branch},
			corev1.EnvVar{Name: "CLAUDERON_RECEIVE_BUNDLE", Value: "1"})
	}
	pod := &corev1.Pod{
		ObjectMeta: meta,
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr(false), // the agent gets no cluster credential either
			EnableServiceLinks:            ptr(false),
			TerminationGracePeriodSeconds: ptr(o.stopTimeout),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr(true),
				RunAsUser:      ptr(uid),
				RunAsGroup:     ptr(gid),
				FSGroup:        ptr(gid),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			InitContainers: []corev1.Container{{
				Name:            setupContainer,
				Image:           spec.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"/bin/sh", "-c", setupScript(copies)},
				Env:             setupEnv,
				Stdin:           receive,
				StdinOnce:       receive,
				SecurityContext: hardened,
				VolumeMounts: []corev1.VolumeMount{
					{Name: dataVolume, MountPath: setupData},
					{Name: filesVolume, MountPath: setupFiles, ReadOnly: true},
				},
			}},
			Containers: []corev1.Container{{
				Name:            agentContainer,
				Image:           spec.Image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Args:            spec.Command,
				Env:             envVars(env),
				WorkingDir:      clauderon.ContainerWorkspace,
				Stdin:           spec.TTY,
				TTY:             spec.TTY,
				SecurityContext: hardened,
				Resources:       res,
				VolumeMounts: append([]corev1.VolumeMount{
					{Name: dataVolume, MountPath: clauderon.ContainerWorkspace, SubPath: "workspace"},
					{Name: dataVolume, MountPath: home, SubPath: "home"},
					{Name: tmpVolume, MountPath: "/tmp"},
				}, fileMounts...),
			}},
			Volumes: []corev1.Volume{
				{Name: dataVolume, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}},
				{Name: filesVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: items}}},
				{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	size, err := resource.ParseQuantity(o.workspaceSize)
	if err != nil {
		return objects{}, clauderon.Errorf(clauderon.EINVALID, "invalid workspace size %q: use a quantity like 10Gi", o.workspaceSize)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if o.storageClass != "" {
		pvc.Spec.StorageClassName = ptr(o.storageClass)
	}
	return objects{pod: pod, cm: cm, pvc: pvc}, nil
}

// setupScript prepares the claim (workspace/ and home/, owned by the
// agent's user), places writable files unless an earlier run left them, and
// on first start turns the bundle on stdin into the workspace repository.
func setupScript(copies []string) string {
	lines := []string{
		"set -eu",
		"umask 022",
		"mkdir -p " + setupData + "/workspace " + setupData + "/home",
		"chmod 700 " + setupData + "/home",
	}
	lines = append(lines, copies...)
	lines = append(lines,
		`if [ -n "${CLAUDERON_RECEIVE_BUNDLE:-}" ] && [ ! -d `+setupData+`/workspace/.git ]; then`,
		`  cat > `+setupData+`/.clauderon.bundle`,
		`  cd `+setupData+`/workspace`,
		`  git init -q`,
		`  git fetch -q `+setupData+`/.clauderon.bundle "+refs/heads/$CLAUDERON_BRANCH:refs/heads/$CLAUDERON_BRANCH"`,
		`  git checkout -q "$CLAUDERON_BRANCH"`,
		`  rm -f `+setupData+`/.clauderon.bundle`,
		`fi`,
	)
	return strings.Join(lines, "\n") + "\n"
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// podUser reads SessionSpec.User ("uid:gid", "uid" or ""); root becomes the
// sandbox user, because pods run as non-root.
func podUser(s string) (int64, int64, error) {
	if s == "" {
		return sandboxUID, sandboxUID, nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	uid, err1 := strconv.ParseInt(u, 10, 64)
	gid := uid
	var err2 error
	if hasGroup {
		gid, err2 = strconv.ParseInt(g, 10, 64)
	}
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, clauderon.Errorf(clauderon.EINVALID, "invalid container user %q: use numeric uid:gid, e.g. 1000:1000", s)
	}
	if uid == 0 {
		uid = sandboxUID
	}
	if gid == 0 {
		gid = sandboxUID
	}
	return uid, gid, nil
}

// rewriteProxyEnv points proxy variables that name proxyHost at proxyURL's
// host (and port, if it has one), keeping the session's user and token.
func rewriteProxyEnv(env []string, proxyHost, proxyURL string) ([]string, error) {
	var target *url.URL
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy":
			u, err := url.Parse(v)
			if err == nil && proxyHost != "" && u.Hostname() == proxyHost {
				if target == nil {
					if proxyURL == "" {
						return nil, clauderon.Errorf(clauderon.EINVALID, "pods cannot reach the proxy: set [kubernetes] proxy_url in config.toml to an address the cluster can reach the daemon's proxy on (README: \"Kubernetes\")")
					}
					if target, err = parseProxyURL(proxyURL); err != nil {
						return nil, err
					}
				}
				port := target.Port()
				if port == "" {
					port = u.Port()
				}
				u.Host = target.Hostname()
				if port != "" {
					u.Host = net.JoinHostPort(target.Hostname(), port)
				}
				kv = k + "=" + u.String()
			}
		}
		out = append(out, kv)
	}
	return out, nil
}

func envVars(env []string) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, corev1.EnvVar{Name: k, Value: v})
	}
	return out
}

// resources are requests equal to limits, so the pod is Guaranteed when
// both are set.
func resources(cpus float64, mem int64) (corev1.ResourceRequirements, error) {
	var r corev1.ResourceRequirements
	l := corev1.ResourceList{}
	if cpus > 0 {
		l[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(cpus*1000+0.5), resource.DecimalSI)
	}
	if mem > 0 {
		l[corev1.ResourceMemory] = *resource.NewQuantity(mem, resource.BinarySI)
	}
	if len(l) > 0 {
		r.Requests, r.Limits = l, l.DeepCopy()
	}
	return r, nil
}

func ptr[T any](v T) *T { return &v }
