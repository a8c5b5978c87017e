package kube

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/clauderon/clauderon"
)

// executor opens an attach or exec stream to a pod: WebSocket first, SPDY
// when the server cannot upgrade to WebSocket (older API servers).
//
// The fallback predicate must be false for a nil error: client-go's
// FallbackExecutor consults it even after a successful primary stream, and a
// predicate that says yes to everything runs the command a second time.

func (b *Backend) newExecutor(ns, pod, sub string, params any) (remotecommand.Executor, error) {
	req := b.cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(pod).SubResource(sub)
	switch p := params.(type) {
	case *corev1.PodAttachOptions:
		req = req.VersionedParams(p, scheme.ParameterCodec)
	case *corev1.PodExecOptions:
		req = req.VersionedParams(p, scheme.ParameterCodec)
	}
	u := req.URL()
	ws, err := remotecommand.NewWebSocketExecutor(b.rc, "GET", u.String())
	if err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(b.rc, "POST", u)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return err != nil && (httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err))
	})
}

// sendBundle waits for the setup container to run and writes the bundle to
// its stdin; the stream ends when the setup container exits.
func (b *Backend) sendBundle(ctx context.Context, ns, pod string, bundle []byte) error {
	err := b.watchPod(ctx, ns, pod, func(p *corev1.Pod) (bool, error) {
		if err := startFailure(p); err != nil {
			return true, err
		}
		c := containerStatus(p.Status.InitContainerStatuses, setupContainer)
		if c != nil && c.State.Terminated != nil {
			return true, clauderon.Errorf(clauderon.EINTERNAL, "the setup container of pod %s ended before it received the repository", pod)
		}
		return c != nil && c.State.Running != nil, nil
	})
	if err != nil {
		if errors.Is(err, errPodGone) {
			return clauderon.Errorf(clauderon.ECONFLICT, "pod %s was deleted while it started", pod)
		}
		return err
	}
	ex, err := b.newExecutor(ns, pod, "attach", &corev1.PodAttachOptions{Container: setupContainer, Stdin: true, Stdout: false, Stderr: false})
	if err != nil {
		return err
	}
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: bytes.NewReader(bundle)}); err != nil {
		return b.wrap(err, "send the repository to pod "+pod)
	}
	return nil
}

// execOutput runs argv in a running container and copies its stdout to w.
// A non-zero exit is an error carrying stderr.
func (b *Backend) execOutput(ctx context.Context, ns, pod, container string, argv []string, w io.Writer) error {
	ex, err := b.newExecutor(ns, pod, "exec", &corev1.PodExecOptions{Container: container, Command: argv, Stdout: true, Stderr: true})
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: w, Stderr: &stderr}); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return b.wrap(err, "exec in pod "+pod)
		}
		return clauderon.Errorf(clauderon.EINVALID, "%s in pod %s failed: %s", argv[0], pod, msg)
	}
	return nil
}
