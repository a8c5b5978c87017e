package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clauderon/clauderon"
)

// wrap turns an error from the API server (or from failing to reach it)
// into a *clauderon.Error that says what to do. what is the failed action,
// e.g. "create pod clauderon-x".
func (b *Backend) wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var ce *clauderon.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded) && !isNetErr(err):
		return err
	case apierrors.IsNotFound(err):
		return clauderon.Errorf(clauderon.ENOTFOUND, "cannot %s: not found in Kubernetes namespace %s", what, b.opts.Namespace)
	case apierrors.IsForbidden(err):
		return clauderon.Errorf(clauderon.EINVALID, "Kubernetes forbids this identity to %s in namespace %s (%s): grant it rights on pods, configmaps, persistentvolumeclaims and pods/attach, pods/exec, pods/log there, or pick another namespace with [kubernetes] namespace", what, b.opts.Namespace, apiMessage(err))
	case apierrors.IsUnauthorized(err):
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "the Kubernetes API server at %s rejected the kubeconfig's credentials: refresh them (kubectl get pods works when they are good)", b.host)
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
		return clauderon.Errorf(clauderon.ECONFLICT, "cannot %s: %s", what, apiMessage(err))
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return clauderon.Errorf(clauderon.EINVALID, "cannot %s: %s", what, apiMessage(err))
	case isNetErr(err), apierrors.IsServiceUnavailable(err), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "the Kubernetes cluster at %s cannot be reached (%v): check that it runs and that the kubeconfig ([kubernetes] kubeconfig, --kubeconfig or $KUBECONFIG) points at it", b.host, rootCause(err))
	}
	return fmt.Errorf("kubernetes: %s: %w", what, err)
}

// isNetErr reports transport failures: refused, reset, DNS, TLS handshake
// timeouts.
func isNetErr(err error) bool {
	var ue *url.Error
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.As(err, &oe)
}

// rootCause is the innermost error, whose text is the useful part
// ("connection refused") without the request URL around it.
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func apiMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Message != "" {
		return se.Status().Message
	}
	return err.Error()
}

// checkAccess lists pods in the namespace: the cheapest request that fails
// with Forbidden when this identity may not work there.
func (b *Backend) checkAccess(ctx context.Context) error {
	_, err := b.cs.CoreV1().Pods(b.opts.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
	return b.wrap(err, "list pods")
}
