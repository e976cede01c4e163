#!/usr/bin/env bash
# Remove what deploy.sh deployed for one overlay. kubectl only.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: deploy/cleanup.sh [-P] [-C] [-N] [-y] [-c CONTEXT] OVERLAY

Delete what deploy/deploy.sh OVERLAY deployed: every object the overlay renders (workloads,
services, ingresses, config, Longhorn recurring jobs, MetalLB pool, dashboards) and the
data volumes (PVCs of sluice's WAL and store, InfluxDB, Grafana). Namespaces and the
Secrets deploy.sh created (tenant tokens) are kept unless -N. Idempotent: what is already
gone is skipped.

Options:
  -P          keep the PVCs (sluice's WAL may still hold writes not yet forwarded, and the
              store and InfluxDB hold the data): a later deploy.sh picks them up again
  -C          keep the CiliumNetworkPolicies
  -N          also delete the namespaces (sluice and the tenants'), with everything in
              them, Secrets and PVCs included (so -N cannot be combined with -P)
  -y          do not ask for confirmation before deleting PVCs or namespaces
  -c CONTEXT  kubectl context (default: the current one)
  -h          this help
EOF
}

keep_pvc=0
keep_policies=0
delete_ns=0
yes=0
kctx=()
while getopts ":PCNyc:h" opt; do
    case "$opt" in
        P) keep_pvc=1 ;;
        C) keep_policies=1 ;;
        N) delete_ns=1 ;;
        y) yes=1 ;;
        c) kctx=(--context "$OPTARG") ;;
        h)
            usage
            exit 0
            ;;
        :)
            echo "cleanup.sh: -$OPTARG needs a value" >&2
            exit 2
            ;;
        *)
            echo "cleanup.sh: unknown option -$OPTARG (see -h)" >&2
            exit 2
            ;;
    esac
done
shift $((OPTIND - 1))
if [ "$#" -ne 1 ]; then
    usage >&2
    exit 2
fi
if [ "$keep_pvc" -eq 1 ] && [ "$delete_ns" -eq 1 ]; then
    echo "cleanup.sh: -P and -N conflict: deleting a namespace deletes its PVCs" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
overlay="$here/overlays/$1"
if [ ! -f "$overlay/kustomization.yaml" ] || [ ! -f "$overlay/tenants" ]; then
    echo "cleanup.sh: no overlay $1 (expected $overlay/kustomization.yaml and tenants)" >&2
    exit 2
fi

log() { echo "cleanup.sh: $*" >&2; }
k() { kubectl "${kctx[@]}" "$@"; }

namespaces=(sluice)
while read -r _ ns _; do
    namespaces+=("$ns")
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$overlay/tenants")

if [ "$yes" -eq 0 ] && { [ "$keep_pvc" -eq 0 ] || [ "$delete_ns" -eq 1 ]; }; then
    what="the data volumes (PVCs)"
    if [ "$delete_ns" -eq 1 ]; then
        what="the namespaces ${namespaces[*]} with everything in them"
    fi
    if [ ! -t 0 ]; then
        echo "cleanup.sh: this deletes $what; run with -y to confirm, or -P to keep the volumes" >&2
        exit 2
    fi
    read -r -p "Delete $what for $1? Type yes: " answer
    if [ "$answer" != "yes" ]; then
        log "nothing deleted"
        exit 1
    fi
fi

manifests=$(mktemp)
trap 'rm -f "$manifests"' EXIT
kubectl kustomize --load-restrictor LoadRestrictionsNone "$overlay" >"$manifests"

# Everything rendered except namespaces (last), and except what -P / -C keep.
selector='sluice.io/namespace!=true'
if [ "$keep_pvc" -eq 1 ]; then
    selector+=',sluice.io/data!=true'
fi
if [ "$keep_policies" -eq 1 ]; then
    selector+=',sluice.io/policy!=true'
fi
log "deleting the objects of $1"
k delete --ignore-not-found --wait=true --selector "$selector" -f "$manifests"

# PVCs made from volumeClaimTemplates are not in the rendered manifests.
if [ "$keep_pvc" -eq 0 ]; then
    for ns in "${namespaces[@]}"; do
        if k get namespace "$ns" >/dev/null 2>&1; then
            k -n "$ns" delete pvc --ignore-not-found --selector 'sluice.io/data=true'
        fi
    done
fi

if [ "$delete_ns" -eq 1 ]; then
    log "deleting namespaces ${namespaces[*]}"
    k delete namespace --ignore-not-found "${namespaces[@]}"
fi
log "done"
