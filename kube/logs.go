package kube

import (
	"bytes"
	"context"
	"errors"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clauderon/clauderon"
)

// Logs streams the agent's output. With follow it waits for the agent to
// start and goes on until it exits or ctx ends. A session stopped by Stop
// returns the output saved then (the pod took its logs with it).
func (b *Backend) Logs(ctx context.Context, id string, follow bool) (clauderon.LogStream, error) {
	ns, name, err := splitID(id)
	if err != nil {
		return nil, err
	}
	_, err = b.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm, cerr := b.cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if cerr == nil {
			if _, stopped := cm.Annotations[stoppedAnnotation]; stopped {
				return io.NopCloser(bytes.NewReader(cm.BinaryData[logsKey])), nil
			}
		}
		return nil, clauderon.Errorf(clauderon.ENOTFOUND, "pod %s is gone from namespace %s", name, ns)
	}
	if err != nil {
		return nil, b.wrap(err, "read pod "+name)
	}
	if err := b.waitStarted(ctx, ns, name); err != nil && !follow {
		return io.NopCloser(bytes.NewReader(nil)), nil // not started: no output yet
	} else if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	r, err := b.cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container: agentContainer, Follow: follow}).Stream(ctx)
	if err != nil {
		return nil, b.wrap(err, "read the logs of pod "+name)
	}
	return r, nil
}
