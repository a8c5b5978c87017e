package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/clauderon/clauderon"
)

// exitNotStarted is the exit code of a pod whose agent never ran (an image
// that cannot be pulled, a failed setup), like docker run's 125.
const exitNotStarted = 125

// exitStopped is the code recorded when Stop deleted a running agent
// (SIGTERM).
const exitStopped = 143

// Inspect reports the pod: running (or still starting), exited with the
// agent's code, failed to start (crash-looping, image not pullable: not
// running, code 125 and the reason in Error), or stopped by Stop (the pod is
// gone, the ConfigMap remembers the code). ENOTFOUND when neither exists.
func (b *Backend) Inspect(ctx context.Context, id string) (clauderon.BackendState, error) {
	ns, name, err := splitID(id)
	if err != nil {
		return clauderon.BackendState{}, err
	}
	p, err := b.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		st := podState(p)
		st.ID = id
		return st, nil
	}
	if !apierrors.IsNotFound(err) {
		return clauderon.BackendState{}, b.wrap(err, "read pod "+name)
	}
	code, stopped, err := b.stoppedCode(ctx, ns, name)
	if err != nil {
		return clauderon.BackendState{}, err
	}
	if !stopped {
		return clauderon.BackendState{}, clauderon.Errorf(clauderon.ENOTFOUND, "pod %s is gone from namespace %s", name, ns)
	}
	return clauderon.BackendState{ID: id, ExitCode: code}, nil
}

// podState reads a pod's agent state.
func podState(p *corev1.Pod) clauderon.BackendState {
	if err := startFailure(p); err != nil {
		st := clauderon.BackendState{ExitCode: exitNotStarted, Error: clauderon.ErrorMessage(err)}
		if c := containerStatus(p.Status.ContainerStatuses, agentContainer); c != nil && c.LastTerminationState.Terminated != nil {
			st.ExitCode = int(c.LastTerminationState.Terminated.ExitCode)
		}
		return st
	}
	if c := containerStatus(p.Status.ContainerStatuses, agentContainer); c != nil && c.State.Terminated != nil {
		return clauderon.BackendState{ExitCode: int(c.State.Terminated.ExitCode)}
	}
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return clauderon.BackendState{}
	case corev1.PodFailed:
		return clauderon.BackendState{ExitCode: exitNotStarted, Error: "pod failed: " + p.Status.Reason + " " + p.Status.Message}
	case corev1.PodPending:
		return clauderon.BackendState{Running: true, Error: "pending: " + pendingReason(p)}
	}
	return clauderon.BackendState{Running: true}
}

// stoppedCode reads the exit code Stop left on the session's ConfigMap.
func (b *Backend) stoppedCode(ctx context.Context, ns, name string) (int, bool, error) {
	cm, err := b.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, b.wrap(err, "read configmap "+name)
	}
	v, ok := cm.Annotations[stoppedAnnotation]
	if !ok {
		return 0, false, nil
	}
	code, _ := strconv.Atoi(v)
	return code, true, nil
}

// Wait blocks until the agent exits and returns its code; 125 for a pod
// that cannot start. A pod deleted by Stop returns the code Stop recorded;
// one deleted otherwise is ENOTFOUND.
func (b *Backend) Wait(ctx context.Context, id string) (int, error) {
	ns, name, err := splitID(id)
	if err != nil {
		return 0, err
	}
	code := 0
	err = b.watchPod(ctx, ns, name, func(p *corev1.Pod) (bool, error) {
		st := podState(p)
		code = st.ExitCode
		return !st.Running, nil
	})
	if errors.Is(err, errPodGone) {
		c, stopped, serr := b.stoppedCode(ctx, ns, name)
		if serr != nil {
			return 0, serr
		}
		if !stopped {
			return 0, clauderon.Errorf(clauderon.ENOTFOUND, "pod %s is gone from namespace %s", name, ns)
		}
		return c, nil
	}
	return code, err
}

// Stop deletes the pod (a pod cannot be stopped and started again) after
// saving its output and exit code on the session's ConfigMap; the claim
// keeps the workspace and the agent's home for Start.
func (b *Backend) Stop(ctx context.Context, id string) error {
	ns, name, err := splitID(id)
	if err != nil {
		return err
	}
	pods := b.cs.CoreV1().Pods(ns)
	p, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, stopped, serr := b.stoppedCode(ctx, ns, name); serr != nil || stopped {
			return serr
		}
		return clauderon.Errorf(clauderon.ENOTFOUND, "pod %s is gone from namespace %s", name, ns)
	}
	if err != nil {
		return b.wrap(err, "read pod "+name)
	}
	code := exitStopped
	if st := podState(p); !st.Running {
		code = st.ExitCode
	}
	logs := b.tailLogs(ctx, ns, name)
	grace := int64(b.opts.StopTimeout / time.Second)
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil && !apierrors.IsNotFound(err) {
		return b.wrap(err, "delete pod "+name)
	}
	// The agent may still exit on its own while it is being deleted.
	_ = b.watchPod(ctx, ns, name, func(p *corev1.Pod) (bool, error) {
		if c := containerStatus(p.Status.ContainerStatuses, agentContainer); c != nil && c.State.Terminated != nil {
			code = int(c.State.Terminated.ExitCode)
		}
		return false, nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return b.markStopped(ctx, ns, name, code, logs)
}

// markStopped records on the ConfigMap that the session was stopped, with
// its exit code and output.
func (b *Backend) markStopped(ctx context.Context, ns, name string, code int, logs []byte) error {
	patch := map[string]any{
		"metadata":   map[string]any{"annotations": map[string]any{stoppedAnnotation: strconv.Itoa(code)}},
		"binaryData": map[string]any{logsKey: logs},
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = b.cs.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, raw, metav1.PatchOptions{})
	return b.wrap(err, "record the stop on configmap "+name)
}

// tailLogs is the agent's output, at most maxSavedLogs of its end.
func (b *Backend) tailLogs(ctx context.Context, ns, name string) []byte {
	limit := int64(maxSavedLogs)
	r, err := b.cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: agentContainer, LimitBytes: &limit}).Stream(ctx)
	if err != nil {
		return nil
	}
	defer r.Close()
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, io.LimitReader(r, maxSavedLogs))
	return buf.Bytes()
}

// Start creates the pod again from the template on the session's ConfigMap
// (after deleting a pod that has exited) and waits until the agent runs. A
// running pod is left alone.
func (b *Backend) Start(ctx context.Context, id string) error {
	ns, name, err := splitID(id)
	if err != nil {
		return err
	}
	pods := b.cs.CoreV1().Pods(ns)
	p, err := pods.Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil && podState(p).Running:
		return nil
	case err == nil:
		zero := int64(0)
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			return b.wrap(err, "delete exited pod "+name)
		}
		if err := b.watchPod(ctx, ns, name, func(*corev1.Pod) (bool, error) { return false, nil }); !errors.Is(err, errPodGone) {
			return err
		}
	case !apierrors.IsNotFound(err):
		return b.wrap(err, "read pod "+name)
	}
	cm, err := b.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return clauderon.Errorf(clauderon.ENOTFOUND, "configmap %s of the session is gone from namespace %s: the pod cannot be made again", name, ns)
	}
	if err != nil {
		return b.wrap(err, "read configmap "+name)
	}
	tmpl, err := template(cm)
	if err != nil {
		return err
	}
	if _, err := pods.Create(ctx, tmpl, metav1.CreateOptions{}); err != nil {
		return b.wrap(err, "create pod "+name)
	}
	patch := []byte(`{"metadata":{"annotations":{"` + stoppedAnnotation + `":null}},"binaryData":{"` + logsKey + `":null}}`)
	if _, err := b.cs.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return b.wrap(err, "update configmap "+name)
	}
	wctx, cancel := context.WithTimeout(ctx, b.opts.StartTimeout)
	defer cancel()
	return b.waitStarted(wctx, ns, name)
}

// Remove deletes the pod, then the claim and the ConfigMap, and any helper
// pod of the session. Already-gone parts are fine; ENOTFOUND only when
// nothing was there.
func (b *Backend) Remove(ctx context.Context, id string) error {
	ns, name, err := splitID(id)
	if err != nil {
		return err
	}
	zero := int64(0)
	found := false
	pods := b.cs.CoreV1().Pods(ns)
	for _, pod := range []string{name, name + pullSuffix} {
		err := pods.Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err == nil {
			found = true
			if werr := b.watchPod(ctx, ns, pod, func(*corev1.Pod) (bool, error) { return false, nil }); !errors.Is(werr, errPodGone) {
				return werr
			}
		} else if !apierrors.IsNotFound(err) {
			return b.wrap(err, "delete pod "+pod)
		}
	}
	pvcs := b.cs.CoreV1().PersistentVolumeClaims(ns)
	if err := pvcs.Delete(ctx, name, metav1.DeleteOptions{}); err == nil {
		found = true
		// The claim goes once the protection controller sees no pod using
		// it; wait, so that a name reused at once gets a fresh workspace.
		for {
			if _, err := pvcs.Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				break
			} else if err != nil {
				return b.wrap(err, "read persistentvolumeclaim "+name)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	} else if !apierrors.IsNotFound(err) {
		return b.wrap(err, "delete persistentvolumeclaim "+name)
	}
	if err := b.cs.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{}); err == nil {
		found = true
	} else if !apierrors.IsNotFound(err) {
		return b.wrap(err, "delete configmap "+name)
	}
	if !found {
		return clauderon.Errorf(clauderon.ENOTFOUND, "nothing of %s is left in namespace %s", name, ns)
	}
	return nil
}

// template is the pod stored on a session's ConfigMap.
func template(cm *corev1.ConfigMap) (*corev1.Pod, error) {
	var p corev1.Pod
	if err := json.Unmarshal([]byte(cm.Data[templateKey]), &p); err != nil || len(p.Spec.InitContainers) == 0 || len(p.Spec.Volumes) == 0 {
		return nil, fmt.Errorf("kubernetes: no valid pod template on configmap %s (%v): delete the session and create it again", cm.Name, err)
	}
	p.ResourceVersion = ""
	return &p, nil
}
