package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// watchPod calls check with the pod now and after every change until check
// says done (returning its error), the pod is deleted (errPodGone) or ctx
// ends. A watch the server closes is opened again.
func (b *Backend) watchPod(ctx context.Context, ns, name string, check func(*corev1.Pod) (bool, error)) error {
	pods := b.cs.CoreV1().Pods(ns)
	for {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return errPodGone
		}
		if err != nil {
			return b.wrap(err, "read pod "+name)
		}
		if done, err := check(p); done {
			return err
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: p.ResourceVersion,
		})
		if err != nil {
			return b.wrap(err, "watch pod "+name)
		}
		done, err := b.drain(ctx, w, check)
		w.Stop()
		if done {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// drain reads one watch until check is done or the watch ends.
func (b *Backend) drain(ctx context.Context, w watch.Interface, check func(*corev1.Pod) (bool, error)) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return true, errPodGone
			case watch.Error:
				return false, nil // e.g. resource version too old: start over
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if done, err := check(p); done {
				return true, err
			}
		}
	}
}
