#!/usr/bin/env bash
# Every offline check of deploy/, grafana/ and telegraf/ (scripts/test.sh runs this; needs
# kubectl, shellcheck, yamllint and the Python packages kubernetes-validate, jsonschema, PyYAML).
# Prints one line per check and "N passed, N failed" at the end; exit status 1 if any failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2

passed=0
failed=0
run() {
    local name=$1 start end out
    shift
    start=$(date +%s%N)
    if out=$("$@" 2>&1); then
        end=$(date +%s%N)
        passed=$((passed + 1))
        printf 'deploy check %-46s ok (%d ms)\n' "$name" $(((end - start) / 1000000))
    else
        failed=$((failed + 1))
        printf 'deploy check %-46s FAILED\n%s\n' "$name" "$out"
    fi
}

# shellcheck disable=SC2016 # the $(...) is for the inner shell
run "deploy.sh -h, cleanup.sh -h" sh -c 'deploy/deploy.sh -h | grep -q "^Usage" && deploy/cleanup.sh -h | grep -q "^Usage"'
run "shellcheck" shellcheck deploy/deploy.sh deploy/cleanup.sh deploy/check/run.sh \
    deploy/components/tenant-influxdb/create-rollup-bucket.sh scripts/test.sh scripts/bench-downsample.sh
run "yamllint" yamllint -s -c .yamllint.yaml deploy grafana .yamllint.yaml
run "schemas + rules + consistency" python3 deploy/check/check.py
run "broken fixtures are rejected" python3 deploy/check/check.py --fixtures
for overlay in single-tenant-demo multi-tenant; do
    # shellcheck disable=SC2016
    run "deploy.sh -P -C $overlay renders valid" sh -c \
        'deploy/deploy.sh -r -P -C "$1" | python3 deploy/check/check.py --manifests -' _ "$overlay"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
