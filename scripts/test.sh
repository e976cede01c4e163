#!/usr/bin/env bash
# The one command that installs what the tests need and runs all tests.
#
#   scripts/test.sh [extra cargo test args...]
#
# Installs (only when missing): the peer servers influxd 1.x (Debian `influxdb`) and
# VictoriaMetrics (Debian `victoria-metrics`), and Python's `influxdb-client` and
# `prometheus-client` (its text parser checks /metrics); for the deployment checks Debian
# `shellcheck` and Python's `kubernetes-validate`, `yamllint`, `jsonschema`, `PyYAML` (kubectl
# comes with the machine). Makes sure no
# system service from those packages is left running (the tests start their own, on free
# loopback ports). Then runs the deployment checks (deploy/check/run.sh: Kubernetes schemas,
# project rules, yamllint, shellcheck, Telegraf TOML, dashboards) and
# `cargo test --all-targets`, honouring CARGO_TARGET_DIR.
# Idempotent; when everything is present it only checks and runs the tests.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "test.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        log "need root (or sudo) to run: $*"
        return 1
    fi
}

apt_install() {
    # Keep Debian maintainer scripts from starting the packaged services: install a
    # policy-rc.d that forbids it, unless one is already in place.
    local policy=/usr/sbin/policy-rc.d added=0
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        added=1
    fi
    local rc=0
    as_root apt-get update -qq || rc=$?
    if [ "$rc" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" || rc=$?
    fi
    if [ "$added" -eq 1 ]; then
        as_root rm -f "$policy"
    fi
    return "$rc"
}

missing=()
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
command -v victoria-metrics >/dev/null 2>&1 || missing+=(victoria-metrics)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

if ! python3 -c 'import influxdb_client' >/dev/null 2>&1; then
    log "installing python influxdb-client"
    python3 -m pip install -q influxdb-client ||
        python3 -m pip install -q --break-system-packages influxdb-client
fi

if ! python3 -c 'import prometheus_client.parser' >/dev/null 2>&1; then
    log "installing python prometheus-client"
    python3 -m pip install -q prometheus-client ||
        python3 -m pip install -q --break-system-packages prometheus-client
fi

pip_install() {
    python3 -m pip install -q "$@" || python3 -m pip install -q --break-system-packages "$@"
}
python3 -c 'import kubernetes_validate, jsonschema, yaml' >/dev/null 2>&1 || {
    log "installing python kubernetes-validate"
    pip_install kubernetes-validate jsonschema PyYAML
}
command -v yamllint >/dev/null 2>&1 || {
    log "installing python yamllint"
    pip_install yamllint
}
if ! command -v kubectl >/dev/null 2>&1; then
    log "kubectl is missing (it comes with the machine image; Debian's kubernetes-client is too old for kustomize components)"
    exit 1
fi

# A packaged service bound to its default port is not ours: stop it through the service
# manager (never by process name).
stop_service_on_port() {
    local service=$1 port=$2
    if command -v ss >/dev/null 2>&1 && ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; then
        log "port $port is in use; stopping service $service if it is the one"
        as_root service "$service" stop >/dev/null 2>&1 ||
            as_root systemctl stop "$service" >/dev/null 2>&1 || true
    fi
}
stop_service_on_port influxdb 8086
stop_service_on_port victoria-metrics 8428

log "influxd: $(influxd version 2>/dev/null | head -n1)"
log "victoria-metrics: $(dpkg-query -W -f='${Version}' victoria-metrics 2>/dev/null || echo unknown)"

./deploy/check/run.sh

cargo test --all-targets "$@"
