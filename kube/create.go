package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clauderon/clauderon"
)

// Create makes the session's ConfigMap, claim and pod, sends the repository
// (when spec.WorkDir is a git worktree) to the pod's setup container and
// waits until the agent runs or has already finished. Anything it made is
// deleted again when it fails. An image the cluster cannot pull is EINVALID
// with the reason.
func (b *Backend) Create(ctx context.Context, spec clauderon.SessionSpec) (string, error) {
	var bundle []byte
	var branch string
	if spec.WorkDir != "" {
		var err error
		if branch, bundle, err = gitBundle(ctx, spec.WorkDir); err != nil {
			return "", err
		}
	}
	obj, err := build(spec, buildOptions{
		namespace: b.opts.Namespace, storageClass: b.opts.StorageClass, workspaceSize: b.opts.WorkspaceSize,
		proxyURL: b.opts.ProxyURL, stopTimeout: int64(b.opts.StopTimeout / time.Second), branch: branch,
	})
	if err != nil {
		return "", err
	}
	if err := b.ensureNamespace(ctx); err != nil {
		return "", err
	}
	if b.opts.NetworkPolicy {
		if err := b.ensureNetworkPolicy(ctx); err != nil {
			return "", err
		}
	}
	// The template Start recreates the pod from: it never asks for the
	// bundle again, the workspace is already in the claim.
	tmpl := obj.pod.DeepCopy()
	noBundle(tmpl)
	raw, err := json.Marshal(tmpl)
	if err != nil {
		return "", err
	}
	obj.cm.Data[templateKey] = string(raw)
	id := b.opts.Namespace + "/" + obj.pod.Name
	ok := false
	defer func() {
		if !ok {
			if rerr := b.Remove(context.WithoutCancel(ctx), id); rerr != nil && clauderon.ErrorCode(rerr) != clauderon.ENOTFOUND {
				b.log.Warn("clean up after failed create", "id", id, "err", rerr)
			}
		}
	}()
	cms := b.cs.CoreV1().ConfigMaps(b.opts.Namespace)
	if _, err := cms.Create(ctx, obj.cm, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			ok = true // someone else's: leave it alone
			return "", clauderon.Errorf(clauderon.ECONFLICT, "Kubernetes objects of session %s already exist in namespace %s: delete them (kubectl -n %s delete pod,configmap,pvc -l %s=%s)", spec.Name, b.opts.Namespace, b.opts.Namespace, clauderon.LabelSession, spec.Name)
		}
		return "", b.wrap(err, "create configmap "+obj.cm.Name)
	}
	if _, err := b.cs.CoreV1().PersistentVolumeClaims(b.opts.Namespace).Create(ctx, obj.pvc, metav1.CreateOptions{}); err != nil {
		return "", b.wrap(err, "create persistentvolumeclaim "+obj.pvc.Name)
	}
	if _, err := b.cs.CoreV1().Pods(b.opts.Namespace).Create(ctx, obj.pod, metav1.CreateOptions{}); err != nil {
		return "", b.wrap(err, "create pod "+obj.pod.Name)
	}
	b.log.Debug("pod created", "id", id, "image", spec.Image, "repo", branch != "")
	wctx, cancel := context.WithTimeout(ctx, b.opts.StartTimeout)
	defer cancel()
	if bundle != nil {
		if err := b.sendBundle(wctx, b.opts.Namespace, obj.pod.Name, bundle); err != nil {
			return "", err
		}
	}
	if err := b.waitStarted(wctx, b.opts.Namespace, obj.pod.Name); err != nil {
		return "", err
	}
	ok = true
	return id, nil
}

// noBundle turns off the setup container's stdin: a recreated pod finds
// the workspace in its claim.
func noBundle(p *corev1.Pod) {
	for i := range p.Spec.InitContainers {
		c := &p.Spec.InitContainers[i]
		c.Stdin, c.StdinOnce = false, false
		env := c.Env[:0]
		for _, e := range c.Env {
			if e.Name != "CLAUDERON_RECEIVE_BUNDLE" {
				env = append(env, e)
			}
		}
		c.Env = env
	}
}

// gitBundle bundles the branch checked out in the worktree dir, with its
// whole history (the agent may want it), and returns the branch name.
func gitBundle(ctx context.Context, dir string) (string, []byte, error) {
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "symbolic-ref", "--short", "HEAD").Output()
	if err != nil {
		return "", nil, clauderon.Errorf(clauderon.EINVALID, "the session's worktree %s has no branch checked out: %v", dir, err)
	}
	branch := strings.TrimSpace(string(out))
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "bundle", "create", "-q", "-", "refs/heads/"+branch)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", nil, fmt.Errorf("git bundle of %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return branch, stdout.Bytes(), nil
}

// ensureNamespace creates the namespace unless it exists. Forbidden to
// create it but able to work in it (it exists) is fine.
func (b *Backend) ensureNamespace(ctx context.Context) error {
	nss := b.cs.CoreV1().Namespaces()
	_, err := nss.Get(ctx, b.opts.Namespace, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return b.wrap(err, "read namespace "+b.opts.Namespace)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: b.opts.Namespace, Labels: map[string]string{clauderon.LabelManaged: "true"}}}
	_, err = nss.Create(ctx, ns, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsForbidden(err):
		if cerr := b.checkAccess(ctx); cerr != nil {
			return cerr
		}
		return nil // cannot create namespaces, but may use this one
	}
	return b.wrap(err, "create namespace "+b.opts.Namespace)
}

// fatalWaiting are container waiting reasons that never resolve by waiting.
var fatalWaiting = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "CrashLoopBackOff": true, "RunContainerError": true,
}

var errPodGone = errors.New("pod gone")

// waitStarted waits until the agent container runs or has finished, and
// turns a pod that cannot start into an error that says why.
func (b *Backend) waitStarted(ctx context.Context, ns, pod string) error {
	var last *corev1.Pod
	err := b.watchPod(ctx, ns, pod, func(p *corev1.Pod) (bool, error) {
		last = p
		if err := startFailure(p); err != nil {
			return true, err
		}
		if c := containerStatus(p.Status.ContainerStatuses, agentContainer); c != nil && (c.State.Running != nil || c.State.Terminated != nil) {
			return true, nil
		}
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
	})
	if errors.Is(err, errPodGone) {
		return clauderon.Errorf(clauderon.ECONFLICT, "pod %s was deleted while it started", pod)
	}
	if err != nil && ctx.Err() != nil && last != nil {
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "pod %s did not start within %s: %s", pod, b.opts.StartTimeout, pendingReason(last))
	}
	return err
}

// startFailure is why the pod cannot start, or nil.
func startFailure(p *corev1.Pod) error {
	all := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, c := range all {
		if w := c.State.Waiting; w != nil && fatalWaiting[w.Reason] {
			if strings.Contains(w.Reason, "Image") {
				return clauderon.Errorf(clauderon.EINVALID, "the cluster cannot pull image %s (%s: %s): push it to a registry the nodes can reach, or load it into the nodes' container runtime; use a tag other than latest so it is not pulled again", c.Image, w.Reason, w.Message)
			}
			return clauderon.Errorf(clauderon.EINVALID, "container %s of pod %s cannot start (%s: %s)", c.Name, p.Name, w.Reason, w.Message)
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if t := c.State.Terminated; t != nil && t.ExitCode != 0 {
			return clauderon.Errorf(clauderon.EINVALID, "the session's setup failed in pod %s (exit %d: %s): the image needs /bin/sh, and git when the session has a repository", p.Name, t.ExitCode, strings.TrimSpace(t.Reason+" "+t.Message))
		}
	}
	return nil
}

// pendingReason explains a pod that is still pending: unschedulable, a
// claim with no volume, an init container that runs.
func pendingReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			msg := c.Reason + ": " + c.Message
			if strings.Contains(c.Message, "unbound") || strings.Contains(c.Message, "PersistentVolumeClaim") {
				msg += " (no volume for the workspace claim: set [kubernetes] storage_class to a class that provisions volumes)"
			}
			return msg
		}
	}
	for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		if c.State.Waiting != nil {
			return fmt.Sprintf("container %s waiting: %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message)
		}
	}
	return "phase " + string(p.Status.Phase)
}

func containerStatus(list []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}
