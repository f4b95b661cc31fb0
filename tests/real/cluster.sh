#!/usr/bin/env bash
# Starts and stops a real Kubernetes control plane for the end-to-end suite: etcd, kube-apiserver (TLS,
# RBAC, static bearer tokens) and kube-controller-manager, all on 127.0.0.1 and all from the binaries
# tests/real/build.sh cached. No scheduler and no node: Pods of Deployments stay Pending, exactly what a
# cluster without capacity holds; everything controllers create (ReplicaSets, Pods, EndpointSlices,
# kube-root-ca.crt, default ServiceAccounts, token Secrets, Events, Leases) is really there.
#
#   tests/real/cluster.sh up DIR     start; writes DIR/admin.kubeconfig and DIR/reader.kubeconfig
#   tests/real/cluster.sh fixture DIR  apply tests/real/fixture (CRDs first, once established)
#   tests/real/cluster.sh down DIR   stop what `up` started in DIR
#
# The reader is the identity the tool scans with: the service account pci-reader/reader, bound to a
# read-only ClusterRole (get/list/watch on everything), like the one the README documents.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cmd=${1:?usage: cluster.sh up|fixture|down DIR}
dir=${2:?usage: cluster.sh up|fixture|down DIR}
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

stop() {
  for name in kube-controller-manager kube-apiserver etcd; do
    if [[ -f "$dir/$name.pid" ]]; then
      local pid
      pid=$(cat "$dir/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

if [[ "$cmd" == down ]]; then
  stop
  exit 0
fi
if [[ "$cmd" == fixture ]]; then
  export KUBECONFIG="$dir/admin.kubeconfig"
  kubectl apply -f "$here/fixture/crds.yaml" >/dev/null
  kubectl wait --for=condition=Established --timeout=60s \
    crd/widgets.example.pci.dev crd/regions.example.pci.dev >/dev/null
  kubectl apply -f "$here/fixture/cluster.yaml" >/dev/null
  exit 0
fi
[[ "$cmd" == up ]] || { echo "usage: cluster.sh up|fixture|down DIR" >&2; exit 2; }

mapfile -t bins < <("$here/build.sh" --print)
kube_dir=${bins[2]}
etcd_dir=${bins[3]}
for b in "$kube_dir/kube-apiserver" "$kube_dir/kube-controller-manager" "$etcd_dir/etcd"; do
  [[ -x "$b" ]] || { echo "cluster.sh: $b is not built: run tests/real/build.sh" >&2; exit 1; }
done

# Free loopback ports, so that several clusters (a test and a benchmark) can run side by side.
read -r etcd_port peer_port api_port < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
EOF
)

# Certificates: a CA, the API server's serving certificate for 127.0.0.1, and the service-account key.
pki="$dir/pki"
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pci-test-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
  -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' > "$pki/san.ext"
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>/dev/null
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

# Static bearer tokens: cluster admin (applies fixtures, runs controllers) and the read-only scanner.
admin_token=$(openssl rand -hex 16)
reader_token=$(openssl rand -hex 16)
cat > "$dir/tokens.csv" <<EOF
$admin_token,pci-admin,pci-admin,system:masters
$reader_token,system:serviceaccount:pci-reader:reader,pci-reader,"system:serviceaccounts,system:serviceaccounts:pci-reader"
EOF

kubeconfig() { # user token
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pci-real
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: $1
  user:
    token: $2
contexts:
- name: pci-real
  context:
    cluster: pci-real
    user: $1
current-context: pci-real
EOF
}
kubeconfig pci-admin "$admin_token" > "$dir/admin.kubeconfig"
kubeconfig reader "$reader_token" > "$dir/reader.kubeconfig"
chmod 600 "$dir"/*.kubeconfig "$dir/tokens.csv"

start() { # name command...
  local name=$1
  shift
  setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
  echo $! > "$dir/$name.pid"
}
trap 'stop' ERR

start etcd "$etcd_dir/etcd" --name pci --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "pci=http://127.0.0.1:$peer_port" --listen-metrics-urls "" \
  --quota-backend-bytes 4294967296

# --endpoint-reconciler-type none: the reconciler refuses a loopback advertise address, and nothing
# here needs the in-cluster `kubernetes` Service to have endpoints.
start kube-apiserver "$kube_dir/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --cert-dir "$dir/certs" \
  --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
  --allow-privileged=true \
  --endpoint-reconciler-type none

ready=""
for _ in $(seq 180); do
  if curl -sf --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin_token" \
    "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1; then
    ready=yes
    break
  fi
  kill -0 "$(cat "$dir/kube-apiserver.pid")" 2>/dev/null || break
  sleep 0.5
done
if [[ -z "$ready" ]]; then
  echo "cluster.sh: kube-apiserver did not become ready; last lines of $dir/kube-apiserver.log:" >&2
  tail -20 "$dir/kube-apiserver.log" >&2
  stop
  exit 1
fi

# --secure-port 0: the controller manager serves nothing (no health port on any address).
start kube-controller-manager "$kube_dir/kube-controller-manager" \
  --kubeconfig "$dir/admin.kubeconfig" \
  --secure-port 0 \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --use-service-account-credentials=false \
  --controllers '*'

# The scanner's identity: a service account bound to a read-only ClusterRole.
KUBECONFIG="$dir/admin.kubeconfig" kubectl apply -f "$here/fixture/reader.yaml" >/dev/null
echo "cluster up: https://127.0.0.1:$api_port ($dir)"
