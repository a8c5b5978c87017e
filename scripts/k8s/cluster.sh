#!/bin/bash
# cluster.sh: clauderon's single-node Kubernetes test cluster (v1.32.9), for
# the kube backend's integration tests and for trying the backend locally.
#
#   cluster.sh up              start it (or reuse the running one); prints the admin kubeconfig path
#   cluster.sh down            stop it (pods drained first; state kept for a fast restart)
#   cluster.sh reset           down, then delete all state (certificates, etcd, images)
#   cluster.sh import IMAGE..  copy local Docker images into the cluster's containerd
#   cluster.sh kubeconfig      print the admin kubeconfig path
#   cluster.sh kubectl ARGS..  run kubectl against it
#   cluster.sh status          exit 0 when it is up
#
# Parts: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kubectl from ONE multi-call binary built from the Go module k8s.io/kubernetes
# (scripts/k8s/build.sh, cached under /var/cache/clauderon/k8s), etcd and the CNI
# plugins from Debian, and a second containerd with CRI on its own socket
# (Docker's containerd is left alone). Nothing is ever pulled: the pause image
# is built here, and images reach the node with `import`. Needs root.
#
# Pitfalls handled (see /work/shared/kubernetes/NOTES.md for how they were found):
# this VM lacks CAP_SYS_RESOURCE, so containerd's CRI sets
# restrict_oom_score_adj; there is no kube-proxy, CoreDNS or volume provisioner
# (tests pre-create hostPath PersistentVolumes); the bridge CNI does not
# enforce NetworkPolicy.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ETC=${CLAUDERON_K8S_ETC:-/etc/clauderon-k8s}
STATE=${CLAUDERON_K8S_STATE:-/var/lib/clauderon-k8s}
RUN=/run/clauderon-k8s
LOGS=$STATE/logs
SOCK=$RUN/containerd/containerd.sock
PKI=$ETC/pki
KC=$ETC/kubeconfigs
ADMIN=$KC/admin.kubeconfig
BRIDGE=cni0
POD_CIDR=10.88.0.0/16
BRIDGE_IP=10.88.0.1
PAUSE=registry.k8s.io/pause:3.10
T0=$(date +%s)
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
say() { echo "[k8s +$(( $(date +%s) - T0 ))s] $*" >&2; }
die() { echo "cluster.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it starts containerd and the kubelet)"

node_name() { hostname | tr 'A-Z' 'a-z'; }
node_ip() {
	ip -4 route get 1.1.1.1 2>/dev/null | awk '{for(i=1;i<=NF;i++) if($i=="src") print $(i+1)}' | head -1 | grep . ||
		hostname -I | awk '{print $1}'
}
ctr_() { ctr -a "$SOCK" -n k8s.io "$@"; }
bin() { echo "$STATE/bin/$1"; }
kubectl_() { "$(bin kubectl)" --kubeconfig "$ADMIN" "$@"; }
alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
start() { # name cmd...: starts a daemon in its own session, records its pid
	local n=$1; shift
	alive "$n" && return 0
	# 9>&-: the daemons must not hold the script's lock.
	setsid nohup "$@" >"$LOGS/$n.log" 2>&1 </dev/null 9>&- &
	echo $! >"$RUN/$n.pid"
}
stop() {
	[ -f "$RUN/$1.pid" ] || return 0
	local p; p=$(cat "$RUN/$1.pid")
	if kill "$p" 2>/dev/null; then
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$p" 2>/dev/null || true
	fi
	rm -f "$RUN/$1.pid"
}
apiserver_ready() { curl -sf --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" https://127.0.0.1:6443/readyz >/dev/null 2>&1; }
is_up() {
	for n in etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet; do alive $n || return 1; done
	apiserver_ready && kubectl_ get node "$(node_name)" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True
}

packages() {
	local missing=()
	command -v etcd >/dev/null || missing+=(etcd-server)
	[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
	command -v containerd >/dev/null || missing+=(containerd)
	command -v runc >/dev/null || missing+=(runc)
	command -v docker >/dev/null || missing+=(docker.io)
	# For the tests' image: sh and friends for the pods' setup container.
	[ -x /bin/busybox ] || missing+=(busybox-static)
	[ ${#missing[@]} = 0 ] && return 0
	say "installing ${missing[*]}"
	# policy-rc.d keeps Debian from starting etcd as a service on install.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
}

binaries() {
	local k8s; k8s=$("$HERE/build.sh")
	mkdir -p "$STATE/bin"
	for n in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
		ln -sfn "$k8s" "$STATE/bin/$n"
	done
}

# certs: a throwaway CA and ECDSA P-256 leaves (RSA keygen costs ~20 s on a busy VM).
certs() {
	[ -f "$PKI/ca.crt" ] && [ "$(cat "$PKI/node" 2>/dev/null)" = "$(node_name) $(node_ip)" ] && return 0
	local node ip; node=$(node_name); ip=$(node_ip)
	rm -rf "$PKI"; mkdir -p "$PKI"; chmod 700 "$PKI"
	(
		cd "$PKI"
		key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key" 2>/dev/null; }
		key ca
		openssl req -x509 -new -key ca.key -out ca.crt -days 3650 -subj "/CN=clauderon-test-k8s-ca" 2>/dev/null
		sign() { # name CN O ext
			key "$1"
			openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2${3:+/O=$3}" 2>/dev/null
			printf '%s\n' "$4" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -extfile "$1.ext" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		client='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'
		sign apiserver kube-apiserver "" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$node,IP:127.0.0.1,IP:10.0.0.1,IP:$ip,IP:$BRIDGE_IP"
		sign kubelet "system:node:$node" "" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:$node,IP:127.0.0.1,IP:$ip"
		sign kubelet-client "system:node:$node" "system:nodes" "$client"
		sign admin kubernetes-admin "system:masters" "$client"
		sign apiserver-kubelet-client kube-apiserver-kubelet-client "system:masters" "$client"
		sign controller-manager system:kube-controller-manager "" "$client"
		sign scheduler system:kube-scheduler "" "$client"
		key sa; openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
		chmod 600 ./*.key
	)
	echo "$node $ip" >"$PKI/node"
	mkdir -p "$KC"
	for n in admin kubelet-client controller-manager scheduler; do
		cat >"$KC/$n.kubeconfig" <<EOK
apiVersion: v1
kind: Config
clusters:
- name: clauderon-test
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://127.0.0.1:6443
users:
- name: $n
  user:
    client-certificate: $PKI/$n.crt
    client-key: $PKI/$n.key
contexts:
- name: $n@clauderon-test
  context: {cluster: clauderon-test, user: $n}
current-context: $n@clauderon-test
EOK
	done
	say "certificates (ECDSA) for node $node $ip"
}

configs() {
	mkdir -p "$ETC/cni" "$STATE" "$RUN/containerd" "$LOGS"
	cat >"$ETC/containerd.toml" <<EOC
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  # This VM drops CAP_SYS_RESOURCE: an oom_score_adj below containerd's own
  # fails in runc ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$ETC/cni"
EOC
	cat >"$ETC/cni/10-clauderon.conflist" <<EOC
{
  "cniVersion": "0.4.0",
  "name": "clauderon-k8s",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$BRIDGE_IP"}]], "routes": [{"dst": "0.0.0.0/0"}],
              "dataDir": "$STATE/cni"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOC
	cat >"$ETC/kubelet.yaml" <<EOC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: AlwaysAllow}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
failSwapOn: false
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOC
}

# bridge: the pod network's gateway exists before the first pod, so a daemon
# can listen on it (the pods' way to the proxy on this single node).
bridge() {
	ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
	ip -4 addr show dev "$BRIDGE" | grep -q " $BRIDGE_IP/" || ip addr add "$BRIDGE_IP/16" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	sysctl -qw net.ipv4.ip_forward=1 || true
}

pause_image() {
	ctr_ images ls -q 2>/dev/null | grep -qx "$PAUSE" && return 0
	local d; d=$(mktemp -d)
	(cd "$HERE/pause" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$d/pause" .)
	printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$d/Dockerfile"
	DOCKER_BUILDKIT=0 docker build -q -t "$PAUSE" "$d" >/dev/null 2>&1
	docker save "$PAUSE" | ctr_ images import - >/dev/null
	rm -rf "$d"
	say "pause image built and imported"
}

up() {
	if is_up; then echo "$ADMIN"; return 0; fi
	packages
	binaries
	certs
	configs
	bridge
	local node ip; node=$(node_name); ip=$(node_ip)
	start etcd /usr/bin/etcd --name clauderon-test --data-dir "$STATE/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster clauderon-test=http://127.0.0.1:2380 --unsafe-no-fsync
	start containerd /usr/bin/containerd --config "$ETC/containerd.toml"
	for _ in $(seq 150); do ctr -a "$SOCK" version >/dev/null 2>&1 && break; sleep 0.2; done
	ctr -a "$SOCK" version >/dev/null 2>&1 || die "containerd did not start: $LOGS/containerd.log"
	say "etcd and containerd up"
	pause_image
	start kube-apiserver "$(bin kube-apiserver)" \
		--etcd-servers=http://127.0.0.1:2379 --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$ip" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--service-cluster-ip-range=10.0.0.0/24 --authorization-mode=Node,RBAC --allow-privileged=true \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
		--enable-priority-and-fairness=false --profiling=false --v=1
	for _ in $(seq 480); do apiserver_ready && break; alive kube-apiserver || break; sleep 0.25; done
	apiserver_ready || die "kube-apiserver did not become ready: $LOGS/kube-apiserver.log"
	say "kube-apiserver ready"
	local k=$KC/controller-manager.kubeconfig s=$KC/scheduler.kubeconfig
	start kube-controller-manager "$(bin kube-controller-manager)" --kubeconfig="$k" \
		--authentication-kubeconfig="$k" --authorization-kubeconfig="$k" \
		--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--use-service-account-credentials=true --leader-elect=false \
		--service-cluster-ip-range=10.0.0.0/24 --secure-port=10257 --bind-address=127.0.0.1 --v=1
	start kube-scheduler "$(bin kube-scheduler)" --kubeconfig="$s" \
		--authentication-kubeconfig="$s" --authorization-kubeconfig="$s" \
		--leader-elect=false --secure-port=10259 --bind-address=127.0.0.1 --v=1
	start kubelet "$(bin kubelet)" --config="$ETC/kubelet.yaml" --kubeconfig="$KC/kubelet-client.kubeconfig" \
		--root-dir="$STATE/kubelet" --hostname-override="$node" --node-ip="$ip" --v=1
	kubectl_ wait --for=condition=Ready "node/$node" --timeout=180s >/dev/null 2>&1 ||
		{ sleep 5; kubectl_ wait --for=condition=Ready "node/$node" --timeout=120s >/dev/null; } ||
		die "node $node did not become Ready: $LOGS/kubelet.log"
	say "node $node Ready"
	for _ in $(seq 240); do kubectl_ -n default get sa default >/dev/null 2>&1 && break; sleep 0.5; done
	say "cluster up (kubeconfig $ADMIN)"
	echo "$ADMIN"
}

down() {
	if alive kubelet && apiserver_ready; then
		kubectl_ delete pods --all -A --grace-period=1 --wait=false >/dev/null 2>&1 || true
		for _ in $(seq 60); do [ -z "$(ctr_ tasks ls -q 2>/dev/null)" ] && break; sleep 0.5; done
	fi
	stop kube-scheduler; stop kube-controller-manager; stop kubelet
	if alive containerd; then
		for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" 2>/dev/null || true; done
		sleep 1
		for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks rm -f "$t" >/dev/null 2>&1 || true; done
		for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$c" >/dev/null 2>&1 || true; done
	fi
	stop kube-apiserver; stop containerd; stop etcd
	# The kubelet leaves its volume mounts (configmap tmpfs, subPath binds).
	grep -o " $STATE/kubelet[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount 2>/dev/null || true
	say "stopped"
}

import() {
	[ $# -gt 0 ] || die "usage: cluster.sh import IMAGE..."
	alive containerd || die "the cluster is not up: run cluster.sh up"
	for img in "$@"; do
		docker save "$img" | ctr_ images import - >/dev/null
		say "imported $img"
	done
}

cmd=${1:-up}; shift || true
# up, down and reset change the cluster: one at a time (make test may run
# while someone starts it by hand).
case $cmd in up | down | reset)
	mkdir -p "$RUN"
	exec 9>"$RUN/.lock"
	flock 9
	;;
esac
case $cmd in
up) up ;;
down) down ;;
reset) down; rm -rf "$STATE" "$ETC" "$RUN"; say "state removed" ;;
import) import "$@" ;;
kubeconfig) echo "$ADMIN" ;;
kubectl) kubectl_ "$@" ;;
status) is_up ;;
*) die "unknown command $cmd: use up, down, reset, import, kubeconfig, kubectl or status" ;;
esac
