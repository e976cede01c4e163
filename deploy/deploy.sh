#!/usr/bin/env bash
# Deploy sluice and its tenant stacks with one overlay of deploy/overlays. kubectl only.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/deploy.sh [-P] [-C] [-r] [-c CONTEXT] OVERLAY

Deploy sluice and the tenant stacks of deploy/overlays/OVERLAY (single-tenant-demo,
multi-tenant, or your own) with kubectl. Idempotent: run it again after any change.

  1. creates the namespaces (sluice and every tenant's, from OVERLAY/tenants);
  2. creates, once per tenant, the Secret tenant-credentials (a new sluice token, Grafana
     and InfluxDB admin credentials) and derives the Secret sluice-tenants in namespace
     sluice from them (token SHA-256, upstream InfluxDB token);
  3. renders OVERLAY with kustomize and applies it (server-side apply);
  4. waits for the sluice StatefulSet to be rolled out (ready = WAL replayed).

Options:
  -P          no PersistentVolumeClaims: emptyDir volumes instead (a throwaway test
              cluster without Longhorn; everything acknowledged is lost with the pod)
  -C          no network policies: skip every CiliumNetworkPolicy (a cluster without Cilium)
  -r          render only: print the rendered manifests (-P applies, -C does not), change nothing
  -c CONTEXT  kubectl context (default: the current one)
  -h          this help

Environment:
  SNMP_COMMUNITY  SNMPv2c community stored in new tenant-credentials (default: public)

Print a tenant's token (give it to the customer's Telegraf agents outside the cluster):
  kubectl -n NAMESPACE get secret tenant-credentials -o jsonpath='{.data.SLUICE_TOKEN}' | base64 -d
EOF
}

no_pvc=0
no_policies=0
render_only=0
kctx=()
while getopts ":PCrc:h" opt; do
    case "$opt" in
        P) no_pvc=1 ;;
        C) no_policies=1 ;;
        r) render_only=1 ;;
        c) kctx=(--context "$OPTARG") ;;
        h)
            usage
            exit 0
            ;;
        :)
            echo "deploy.sh: -$OPTARG needs a value" >&2
            exit 2
            ;;
        *)
            echo "deploy.sh: unknown option -$OPTARG (see -h)" >&2
            exit 2
            ;;
    esac
done
shift $((OPTIND - 1))
if [ "$#" -ne 1 ]; then
    usage >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
overlay="$here/overlays/$1"
if [ ! -f "$overlay/kustomization.yaml" ] || [ ! -f "$overlay/tenants" ]; then
    echo "deploy.sh: no overlay $1 (expected $overlay/kustomization.yaml and tenants)" >&2
    exit 2
fi

log() { echo "deploy.sh: $*" >&2; }
k() { kubectl "${kctx[@]}" "$@"; }

# Tenant id → the prefix of its variables in sluice.toml: customer-a → CUSTOMER_A.
env_prefix() { printf '%s' "$1" | tr '[:lower:]' '[:upper:]' | tr -c 'A-Z0-9' '_'; }

random_secret() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# kustomize OVERLAY, plus components/no-pvc with -P (through a temporary kustomization).
render() {
    local dir=$overlay tmp=""
    if [ "$no_pvc" -eq 1 ]; then
        tmp=$(mktemp -d)
        cat >"$tmp/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$tmp" "$overlay")
components:
  - $(realpath --relative-to="$tmp" "$here/components/no-pvc")
EOF
        dir=$tmp
    fi
    local rc=0
    kubectl kustomize --load-restrictor LoadRestrictionsNone "$dir" || rc=$?
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
    return "$rc"
}

selector=()
if [ "$no_policies" -eq 1 ]; then
    selector=(--selector 'sluice.io/policy!=true')
fi

if [ "$render_only" -eq 1 ]; then
    render
    exit 0
fi

manifests=$(mktemp)
trap 'rm -f "$manifests"' EXIT
render >"$manifests"

# Tenants: "id namespace influxdb" per line, # comments.
tenants=()
while read -r id ns _; do
    tenants+=("$id:$ns")
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$overlay/tenants")

ensure_namespace() {
    k create namespace "$1" --dry-run=client -o yaml | k apply -f - >/dev/null
}

ensure_namespace sluice
sluice_literals=()
for t in "${tenants[@]}"; do
    id=${t%%:*}
    ns=${t#*:}
    ensure_namespace "$ns"
    if ! k -n "$ns" get secret tenant-credentials >/dev/null 2>&1; then
        log "creating Secret tenant-credentials in $ns (new sluice token for tenant $id)"
        k -n "$ns" create secret generic tenant-credentials \
            --from-literal=SLUICE_TOKEN="$(random_secret)" \
            --from-literal=GRAFANA_ADMIN_PASSWORD="$(random_secret)" \
            --from-literal=INFLUX_ADMIN_PASSWORD="$(random_secret)" \
            --from-literal=INFLUX_ADMIN_TOKEN="$(random_secret)" \
            --from-literal=SNMP_COMMUNITY="${SNMP_COMMUNITY:-public}" >/dev/null
    fi
    token=$(k -n "$ns" get secret tenant-credentials -o jsonpath='{.data.SLUICE_TOKEN}' | base64 -d)
    influx=$(k -n "$ns" get secret tenant-credentials -o jsonpath='{.data.INFLUX_ADMIN_TOKEN}' | base64 -d)
    p=$(env_prefix "$id")
    sluice_literals+=(--from-literal="${p}_TOKEN_SHA256=$(sha256 "$token")")
    sluice_literals+=(--from-literal="${p}_INFLUX_TOKEN=$influx")
done
before=$(k -n sluice get secret sluice-tenants -o jsonpath='{.data}' 2>/dev/null || true)
k -n sluice create secret generic sluice-tenants "${sluice_literals[@]}" --dry-run=client -o yaml |
    k apply -f - >/dev/null
after=$(k -n sluice get secret sluice-tenants -o jsonpath='{.data}')
# sluice reads the Secret through its environment: a changed Secret needs new pods.
restart=0
if [ -n "$before" ] && [ "$before" != "$after" ]; then
    log "Secret sluice-tenants changed (${#tenants[@]} tenant(s)): sluice will be restarted"
    restart=1
fi

log "applying $1$([ "$no_pvc" -eq 1 ] && echo ' without PVCs')$([ "$no_policies" -eq 1 ] && echo ' without network policies')"
k apply --server-side --field-manager=sluice-deploy --force-conflicts "${selector[@]}" -f "$manifests"

if [ "$restart" -eq 1 ]; then
    k -n sluice rollout restart statefulset/sluice
fi
log "waiting for sluice (ready once its WAL is replayed)"
k -n sluice rollout status statefulset/sluice --timeout=20m
log "done. Grafana: the Ingress hosts below; user admin, password in Secret tenant-credentials"
k get ingress -A
