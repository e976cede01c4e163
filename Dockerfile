# sluice: multi-stage build, minimal non-root runtime.
#
#   docker build -t registry.example.com/monitoring/sluice:0.1.0 .
#
# The build stage runs exactly what builds a release binary locally:
#   cargo build --release --locked --bins     → target/release/sluice, target/release/sluice-bench

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Every target the manifest names must exist (benches/ and tests/ included).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bins \
    && install -D -m 0755 target/release/sluice target/release/sluice-bench -t /out

# glibc + curl for the HEALTHCHECK; nothing else (no shell tools beyond Debian's base).
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sluice \
    && useradd --system --uid 10001 --gid sluice --home-dir /var/lib/sluice --shell /usr/sbin/nologin sluice \
    && install -d -o sluice -g sluice -m 0750 /var/lib/sluice /var/lib/sluice/wal /var/lib/sluice/store /etc/sluice
COPY --from=build /out/sluice /out/sluice-bench /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/sluice
# 8086: the InfluxDB API (set [server] listen = "0.0.0.0:8086"); 8087: /metrics and
# /-/reload (set [admin] listen; keep it off public networks).
EXPOSE 8086 8087
VOLUME ["/var/lib/sluice"]
# /health answers 200 while the process serves (Kubernetes uses its own probes instead).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8086/health"]
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["serve", "--config", "/etc/sluice/sluice.toml", "--log-format", "json"]
