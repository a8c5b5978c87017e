package kube

import (
	"context"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/clauderon/clauderon"
)

// networkPolicyName is the namespace's one policy for session pods.
const networkPolicyName = "clauderon-sessions"

// networkPolicy lets session pods reach the proxy (its IP, and port when
// ProxyURL has one) and nothing else, and lets nothing reach them. Attach,
// exec and logs go through the kubelet, not the pod network, so they keep
// working. It is nil when ProxyURL names a host, not an IP: a policy can
// only select addresses; deploy/kubernetes/ has one to edit by hand.
func networkPolicy(namespace, proxyURL string) (*networkingv1.NetworkPolicy, error) {
	u, err := parseProxyURL(proxyURL)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil {
		return nil, nil
	}
	bits := 32
	if ip.To4() == nil {
		bits = 128
	}
	rule := networkingv1.NetworkPolicyEgressRule{
		To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: ip.String() + "/" + strconv.Itoa(bits)}}},
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		tcp := corev1.ProtocolTCP
		port := intstr.FromInt32(int32(p))
		rule.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &port}}
	}
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: networkPolicyName, Namespace: namespace, Labels: map[string]string{clauderon.LabelManaged: "true"}},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{clauderon.LabelManaged: "true"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{rule},
		},
	}, nil
}

// ensureNetworkPolicy creates or updates the namespace's policy.
func (b *Backend) ensureNetworkPolicy(ctx context.Context) error {
	if b.opts.ProxyURL == "" {
		return nil // Create refuses later, with the message about proxy_url
	}
	np, err := networkPolicy(b.opts.Namespace, b.opts.ProxyURL)
	if err != nil || np == nil {
		if np == nil && err == nil {
			b.log.Warn("proxy_url names a host, not an IP: no NetworkPolicy created; apply deploy/kubernetes/networkpolicy.yaml by hand", "proxy_url", b.opts.ProxyURL)
		}
		return err
	}
	nps := b.cs.NetworkingV1().NetworkPolicies(b.opts.Namespace)
	cur, err := nps.Get(ctx, np.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = nps.Create(ctx, np, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return b.wrap(err, "create networkpolicy "+np.Name)
	}
	if err != nil {
		return b.wrap(err, "read networkpolicy "+np.Name)
	}
	cur.Spec = np.Spec
	_, err = nps.Update(ctx, cur, metav1.UpdateOptions{})
	return b.wrap(err, "update networkpolicy "+np.Name)
}
