#!/usr/bin/env bash
# Issue 7's ingest benchmark: server CPU (utime + stime, 1/100 s ticks) for 400 000 lines with
# the three downsampling rules of BENCHMARKS.md ("three") or none ("none"), embedded mode.
# Run pairs alternating, on a quiet machine; the ratio is none / three.
#   cargo build --release --bin sluice --bin sluice-bench
#   scripts/bench-downsample.sh none 19500; scripts/bench-downsample.sh three 19510
set -euo pipefail
rules=${1:?usage: bench-downsample.sh none|three [PORT]}
port=${2:-19500}
B=${B:-$(dirname "$0")/../target/release}
dir=$(mktemp -d /var/tmp/sluice-dsbench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
rule() { # tenant-wide rule: measurements, every, aggregates, target bucket
  printf '[[downsample]]\ntenant = "*"\nfrom = { bucket = "telegraf", measurements = [%s] }\nevery = "%s"\naggregates = [%s]\nto = { bucket = "%s" }\ngrace = "1m"\n\n' "$@"
}
{
  printf 'data_dir = "%s/data"\n[server]\nlisten = "127.0.0.1:%s"\n[admin]\nlisten = "127.0.0.1:%s"\n' "$dir" "$port" "$((port + 1))"
  printf '[[tenant]]\nid = "acme"\ntoken_sha256 = ["%s"]\nbuckets = ["*"]\n' "$("$B/sluice" token hash tok-bench)"
  case $rules in
    none) ;;
    three)
      rule '"interface"' 5m '"mean", "max", "rate"' telegraf_5m
      rule '"ping", "snmp"' 5m '"mean", "max"' telegraf_5m
      rule '"interface"' 1h '"mean", "max", "rate"' telegraf_1h ;;
    *) echo "rules: none or three" >&2; exit 2 ;;
  esac
} > "$dir/sluice.toml"
"$B/sluice" serve --config "$dir/sluice.toml" 2> "$dir/err.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" > /dev/null && break; sleep 0.2; done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu)
"$B/sluice-bench" run --url "http://127.0.0.1:$port" --tenant acme:tok-bench:telegraf \
  --devices 100 --interfaces 48 --batch 5000 -c 1 --lines 400000 --pid "sluice=$pid" > /dev/null 2>&1
sleep 30 # the downsampler is a WAL consumer and lags the load: wait until it is idle
echo "$rules ticks=$(( $(cpu) - c0 )) $(grep VmHWM "/proc/$pid/status" | tr -s ' \t' ' ')"
kill "$pid"; wait "$pid" || true
