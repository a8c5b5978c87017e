package kube

import (
	"context"
	"errors"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clauderon/clauderon"
)

// pullSuffix names the helper pod ExportWorkspace starts when the agent's
// pod is not running.
const pullSuffix = "-pull"

var _ clauderon.WorkspaceExporter = (*Backend)(nil)

// ExportWorkspace writes a git bundle of branch, as committed in the
// session's workspace, to w. It runs git in the agent's container when that
// runs, else in a short-lived helper pod that mounts the workspace claim.
// Uncommitted changes are not part of it.
func (b *Backend) ExportWorkspace(ctx context.Context, id, branch string, w io.Writer) error {
	ns, name, err := splitID(id)
	if err != nil {
		return err
	}
	argv := func(dir string) []string {
		return []string{"git", "-C", dir, "bundle", "create", "-q", "-", "refs/heads/" + branch}
	}
	p, err := b.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		if c := containerStatus(p.Status.ContainerStatuses, agentContainer); c != nil && c.State.Running != nil {
			return b.execOutput(ctx, ns, name, agentContainer, argv(clauderon.ContainerWorkspace), w)
		}
	} else if !apierrors.IsNotFound(err) {
		return b.wrap(err, "read pod "+name)
	}
	helper, err := b.startHelper(ctx, ns, name)
	if err != nil {
		return err
	}
	defer func() {
		zero := int64(0)
		_ = b.cs.CoreV1().Pods(ns).Delete(context.WithoutCancel(ctx), helper, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	}()
	return b.execOutput(ctx, ns, helper, "pull", argv(setupData+"/workspace"), w)
}

// startHelper starts a pod that mounts the session's claim and idles (it
// waits on stdin nobody writes to), for git to run in.
func (b *Backend) startHelper(ctx context.Context, ns, name string) (string, error) {
	cm, err := b.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", b.wrap(err, "read configmap "+name)
	}
	tmpl, err := template(cm)
	if err != nil {
		return "", err
	}
	setup := tmpl.Spec.InitContainers[0]
	hp := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + pullSuffix, Namespace: ns, Labels: tmpl.Labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  tmpl.Spec.AutomountServiceAccountToken,
			EnableServiceLinks:            tmpl.Spec.EnableServiceLinks,
			SecurityContext:               tmpl.Spec.SecurityContext,
			TerminationGracePeriodSeconds: ptr(int64(0)),
			Containers: []corev1.Container{{
				Name: "pull", Image: setup.Image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"/bin/sh", "-c", "read -r _ || :"}, Stdin: true,
				Env:             []corev1.EnvVar{{Name: "HOME", Value: setupData + "/home"}},
				SecurityContext: setup.SecurityContext,
				VolumeMounts:    []corev1.VolumeMount{{Name: dataVolume, MountPath: setupData}},
			}},
			Volumes: []corev1.Volume{tmpl.Spec.Volumes[0]},
		},
	}
	hp.Labels = map[string]string{}
	for k, v := range tmpl.Labels {
		hp.Labels[k] = v
	}
	hp.Labels[clauderon.LabelMode] = "pull"
	pods := b.cs.CoreV1().Pods(ns)
	if _, err := pods.Create(ctx, hp, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", b.wrap(err, "create pod "+hp.Name)
	}
	wctx, cancel := context.WithTimeout(ctx, b.opts.StartTimeout)
	defer cancel()
	err = b.watchPod(wctx, ns, hp.Name, func(p *corev1.Pod) (bool, error) {
		if err := startFailure(p); err != nil {
			return true, err
		}
		c := containerStatus(p.Status.ContainerStatuses, "pull")
		if c != nil && c.State.Terminated != nil {
			return true, clauderon.Errorf(clauderon.EINTERNAL, "helper pod %s ended early", hp.Name)
		}
		return c != nil && c.State.Running != nil, nil
	})
	if errors.Is(err, errPodGone) {
		return "", clauderon.Errorf(clauderon.ECONFLICT, "helper pod %s was deleted while it started", hp.Name)
	}
	return hp.Name, err
}
