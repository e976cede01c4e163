//! Tests of the config file rules, read like the rules in `config`'s module docs.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;
use crate::model::BucketName;
use crate::tenant::token;

fn env(name: &str) -> Option<String> {
    match name {
        "ACME_INFLUX_TOKEN" => Some("acme-upstream-secret".into()),
        "INFLUX_TOKEN" => Some("global-upstream-secret".into()),
        "QUOTED" => Some("pa\"ss' = x\n[evil]".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, env)
}

fn err(text: &str) -> ConfigError {
    match parse(text) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

fn hash(n: u32) -> String {
    token::hash(&format!("token-{n}"))
}

const FULL: &str = r#"
data_dir = "/srv/sluice"
[server]
listen = "0.0.0.0:9999"
max_body_bytes = "10MB"
shutdown_timeout = "5s"
[wal]
max_disk = "1GiB"
sync = "none"
segment_size = "512KiB"
compression = "none"
[upstream]
url = "http://influxdb:8086"
api = "v1"
timeout = "250ms"
batch_lines = 100
batch_bytes = 65536
gzip = false
max_in_flight = 2
max_backoff = "5m"
query_timeout = "90s"
query_max_bytes = "64MiB"
org = "main"
token = "${INFLUX_TOKEN}"
username = "admin"
password = "hunter2"
[[tenant]]
id = "acme"
token_sha256 = ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
buckets = ["telegraf", "telegraf/weekly"]
upstream = { org = "acme", token = "${ACME_INFLUX_TOKEN}", bucket_prefix = "acme_" }
[[tenant]]
id = "all"
token_sha256 = ["0000000000000000000000000000000000000000000000000000000000000001"]
buckets = ["*"]
"#;

#[test]
fn empty_file_gives_every_default() {
    let c = parse("").unwrap();
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.server.listen, "127.0.0.1:8086".parse().unwrap());
    assert_eq!(c.server.max_body_bytes, 32 << 20);
    assert_eq!(c.server.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(c.admin.listen, "127.0.0.1:8087".parse().unwrap());
    assert_eq!(c.wal.dir, PathBuf::from("./data/wal"));
    assert_eq!(c.wal.max_disk, 20 << 30);
    assert_eq!(c.wal.sync, WalSync::Always);
    assert_eq!(c.wal.segment_size, 64 << 20);
    assert_eq!(c.wal.compression, WalCompression::Lz4);
    assert!(c.upstream.is_none());
    assert!(c.tenants.is_empty());
    let e = Config::embedded_default(Path::new("/x"));
    assert_eq!(e.wal.dir, PathBuf::from("/x/wal"));
    assert_eq!(e.server.listen, c.server.listen);
}

#[test]
fn full_file_is_read() {
    let c = parse(FULL).unwrap();
    assert_eq!(c.wal.dir, PathBuf::from("/srv/sluice/wal"));
    assert_eq!(c.server.listen.port(), 9999);
    assert_eq!(c.server.max_body_bytes, 10_000_000);
    assert_eq!(c.wal.segment_size, 512 << 10);
    assert_eq!(c.wal.sync, WalSync::None);
    let u = c.upstream.as_ref().unwrap();
    assert_eq!(u.url.as_str(), "http://influxdb:8086/");
    assert_eq!(u.api, UpstreamApi::V1);
    assert_eq!(u.timeout, Duration::from_millis(250));
    assert_eq!(
        (u.batch_lines, u.batch_bytes, u.gzip, u.max_in_flight),
        (100, 65536, false, 2)
    );
    assert_eq!(u.max_backoff, Duration::from_secs(300));
    assert_eq!(
        (u.query_timeout, u.query_max_bytes),
        (Duration::from_secs(90), 64 << 20)
    );
    assert_eq!(u.token.as_ref().unwrap().expose(), "global-upstream-secret");
    let acme = &c.tenants[0];
    assert_eq!(acme.id.as_str(), "acme");
    assert_eq!(
        acme.upstream.token.as_ref().unwrap().expose(),
        "acme-upstream-secret"
    );
    assert_eq!(acme.upstream.bucket_prefix, "acme_");
    assert_eq!(acme.upstream.username, None);
    assert_eq!(
        acme.buckets[1],
        crate::tenant::BucketPattern::Exact(BucketName::new("telegraf/weekly").unwrap())
    );
    assert_eq!(
        c.tenants[1].buckets,
        vec![crate::tenant::BucketPattern::Any]
    );
}

#[test]
fn env_values_cannot_break_toml() {
    let c = parse("[upstream]\nurl = \"http://x\"\npassword = \"${QUOTED}\"\n").unwrap();
    let u = c.upstream.unwrap();
    assert_eq!(u.password.unwrap().expose(), "pa\"ss' = x\n[evil]");
}

#[test]
fn unset_env_names_key_and_line() {
    let text = "[upstream]\nurl = \"http://x\"\n\ntoken = \"${NOPE}\"\n";
    match err(text) {
        ConfigError::EnvUnset { key, line, var } => {
            assert_eq!(
                (key.as_str(), line, var.as_str()),
                ("upstream.token", 4, "NOPE")
            );
        }
        other => panic!("{other:?}"),
    }
    let text = format!(
        "[[tenant]]\nid = \"a\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"b\"]\nupstream = {{ password = \"x${{MISSING}}\" }}\n",
        hash(1)
    );
    let e = err(&text);
    assert_eq!(e.key(), Some("tenant[0].upstream.password"));
    assert_eq!(e.line(), Some(5));
    assert!(e.to_string().contains("MISSING"), "{e}");
}

#[test]
fn unknown_key_names_key_and_line() {
    let e = err("data_dir = \"x\"\n[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"oops\"\n");
    assert_eq!(e.line(), Some(4), "{e}");
    assert_eq!(e.key(), Some("server.lisen"), "{e}");
    assert!(e.to_string().contains("lisen"), "{e}");

    let e = err("bogus = 1\n");
    assert_eq!((e.key(), e.line()), (Some("bogus"), Some(1)), "{e}");

    let text = format!(
        "\n[[tenant]]\nid = \"a\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"b\"]\nupstream = {{ orgg = \"x\" }}\n",
        hash(1)
    );
    let e = err(&text);
    assert_eq!(e.line(), Some(6), "{e}");
    assert_eq!(e.key(), Some("tenant[0].upstream.orgg"), "{e}");

    let text = format!(
        "{}{}extra = true\n",
        tenant("a", &[hash(1)], "[\"x\"]"),
        tenant("b", &[hash(2)], "[\"x\"]")
    );
    let e = err(&text);
    assert_eq!(
        (e.key(), e.line()),
        (Some("tenant[1].extra"), Some(9)),
        "{e}"
    );
}

#[test]
fn bad_values_name_key_and_line() {
    let cases: &[(&str, &str, usize)] = &[
        (
            "[server]\nmax_body_bytes = \"32 MegaBytes\"\n",
            "server.max_body_bytes",
            2,
        ),
        ("[server]\n\nlisten = \"localhost\"\n", "server.listen", 3),
        (
            "[server]\nshutdown_timeout = \"30\"\n",
            "server.shutdown_timeout",
            2,
        ),
        ("[wal]\nsync = \"sometimes\"\n", "wal.sync", 2),
        ("[wal]\ncompression = \"zstd\"\n", "wal.compression", 2),
        ("[wal]\nmax_disk = 0\n", "wal.max_disk", 2),
        (
            "[wal]\nmax_disk = \"1MiB\"\nsegment_size = \"2MiB\"\n",
            "wal.segment_size",
            3,
        ),
        ("[upstream]\nurl = \"not a url\"\n", "upstream.url", 2),
        ("[upstream]\nurl = \"ftp://x\"\n", "upstream.url", 2),
        (
            "[upstream]\nurl = \"http://x\"\napi = \"v3\"\n",
            "upstream.api",
            3,
        ),
        (
            "[upstream]\nurl = \"http://x\"\nbatch_lines = 0\n",
            "upstream.batch_lines",
            3,
        ),
        (
            "[upstream]\nurl = \"http://x\"\ngzip = \"yes\"\n",
            "upstream.gzip",
            3,
        ),
    ];
    for (text, key, line) in cases {
        let e = err(text);
        assert_eq!(
            (e.key(), e.line()),
            (Some(*key), Some(*line)),
            "{text:?}: {e}"
        );
    }
}

#[test]
fn syntax_error_has_line() {
    let e = err("[server]\nlisten = \n");
    assert!(matches!(e, ConfigError::Syntax { line: 2, .. }), "{e:?}");
}

fn tenant(id: &str, hashes: &[String], buckets: &str) -> String {
    let hashes: Vec<String> = hashes.iter().map(|h| format!("\"{h}\"")).collect();
    format!(
        "[[tenant]]\nid = \"{id}\"\ntoken_sha256 = [{}]\nbuckets = {buckets}\n",
        hashes.join(", ")
    )
}

#[test]
fn tenant_rules() {
    let a = tenant("a", &[hash(1)], "[\"x\"]");
    // Duplicate id: the second tenant's id line (line 6).
    let e = err(&format!("{a}{}", tenant("a", &[hash(2)], "[\"x\"]")));
    assert_eq!((e.key(), e.line()), (Some("tenant[1].id"), Some(6)), "{e}");
    // Duplicate token across tenants.
    let e = err(&format!(
        "{a}{}",
        tenant("b", &[hash(3), hash(1)], "[\"x\"]")
    ));
    assert_eq!(
        (e.key(), e.line()),
        (Some("tenant[1].token_sha256[1]"), Some(7)),
        "{e}"
    );
    // Bad hex.
    let e = err(&tenant("a", &[hash(1).to_uppercase()], "[\"x\"]"));
    assert_eq!(
        (e.key(), e.line()),
        (Some("tenant[0].token_sha256[0]"), Some(3)),
        "{e}"
    );
    // Empty lists.
    let e = err(&tenant("a", &[], "[\"x\"]"));
    assert_eq!(e.key(), Some("tenant[0].token_sha256"), "{e}");
    let e = err(&tenant("a", &[hash(1)], "[]"));
    assert_eq!(
        (e.key(), e.line()),
        (Some("tenant[0].buckets"), Some(4)),
        "{e}"
    );
    // Bad bucket name, bad id.
    let e = err(&tenant("a", &[hash(1)], "[\"ok\", \"\"]"));
    assert_eq!(e.key(), Some("tenant[0].buckets[1]"), "{e}");
    let e = err(&tenant("", &[hash(1)], "[\"x\"]"));
    assert_eq!((e.key(), e.line()), (Some("tenant[0].id"), Some(2)), "{e}");
    // Missing required key.
    let e = err("[[tenant]]\nid = \"a\"\nbuckets = [\"x\"]\n");
    assert!(e.to_string().contains("token_sha256"), "{e}");
}

#[test]
fn redacted_toml_hides_secrets_and_reloads() {
    let c = parse(FULL).unwrap();
    let out = c.redacted_toml();
    for secret in ["hunter2", "acme-upstream-secret", "global-upstream-secret"] {
        assert!(!out.contains(secret), "{secret} leaked:\n{out}");
    }
    assert!(out.contains("<redacted>"));
    let with_userinfo = parse("[upstream]\nurl = \"http://u:urlsecret@h:8086\"\n").unwrap();
    let dump = with_userinfo.redacted_toml();
    assert!(
        !dump.contains("urlsecret") && dump.contains("http://u:redacted@h:8086/"),
        "{dump}"
    );
    assert!(out.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    // The dump is a valid config with the same effective values (secrets aside).
    let back = parse(&out).unwrap();
    assert_eq!(back.server.max_body_bytes, c.server.max_body_bytes);
    assert_eq!(back.wal.dir, c.wal.dir);
    assert_eq!(back.wal.segment_size, c.wal.segment_size);
    let (u, bu) = (c.upstream.unwrap(), back.upstream.unwrap());
    assert_eq!(
        (bu.timeout, bu.max_backoff, bu.api),
        (u.timeout, u.max_backoff, u.api)
    );
    assert_eq!(
        (bu.query_timeout, bu.query_max_bytes),
        (u.query_timeout, u.query_max_bytes)
    );
    assert_eq!(back.tenants[1].buckets, c.tenants[1].buckets);
    assert_eq!(back.tenants[0].token_sha256, c.tenants[0].token_sha256);
    // Defaults are filled in.
    let d = parse("").unwrap().redacted_toml();
    assert!(d.contains("max_body_bytes = \"32MiB\""), "{d}");
    assert!(d.contains("listen = \"127.0.0.1:8086\""), "{d}");
    assert!(d.contains("listen = \"127.0.0.1:8087\""), "{d}");
    let admin = parse("[admin]\nlisten = \"0.0.0.0:9000\"\n").unwrap();
    assert_eq!(admin.admin.listen.port(), 9000);
    assert_eq!(
        parse(&admin.redacted_toml()).unwrap().admin.listen.port(),
        9000
    );
    let e = err("[admin]\nlisten = \"nope\"\n");
    assert_eq!((e.key(), e.line()), (Some("admin.listen"), Some(2)), "{e}");
}

#[test]
fn secret_debug_is_redacted() {
    let c = parse(FULL).unwrap();
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains("hunter2") && !dbg.contains("acme-upstream-secret"),
        "{dbg}"
    );
}

#[test]
fn load_reads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluice.toml");
    std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1234\"\n").unwrap();
    assert_eq!(Config::load(&path).unwrap().server.listen.port(), 1234);
    assert!(matches!(
        Config::load(&dir.path().join("missing.toml")),
        Err(ConfigError::Read { .. })
    ));
}

const LIMITS: &str = r#"
[server]
max_in_flight_requests = 64
max_in_flight_bytes = "256MiB"
header_read_timeout = "5s"
body_read_timeout = "30s"
max_connections = 100
[limits]
replicas = 3
[[tenant]]
id = "acme"
token_sha256 = ["0000000000000000000000000000000000000000000000000000000000000001"]
buckets = ["*"]
limits = { lines_per_sec = 50000, burst_lines = 250000, bytes_per_sec = "16MiB", max_series = 200000, series_window = "1h", max_queries = 4, queries_per_min = 120 }
[[tenant]]
id = "free"
token_sha256 = ["0000000000000000000000000000000000000000000000000000000000000002"]
buckets = ["*"]
"#;

#[test]
fn limits_are_read_with_defaults() {
    let c = parse(LIMITS).unwrap();
    assert_eq!(c.server.max_in_flight_requests, 64);
    assert_eq!(c.server.max_in_flight_bytes, 256 << 20);
    assert_eq!(c.server.header_read_timeout, Duration::from_secs(5));
    assert_eq!(c.server.body_read_timeout, Duration::from_secs(30));
    assert_eq!(c.server.max_connections, 100);
    assert_eq!(c.limits.replicas, 3);
    let l = &c.tenants[0].limits;
    assert_eq!(l.lines_per_sec, Some(50_000));
    assert_eq!(l.burst_lines, Some(250_000));
    assert_eq!(l.bytes_per_sec, Some(16 << 20));
    assert_eq!(
        l.burst_bytes,
        Some(80 << 20),
        "default burst: 5 s of the rate"
    );
    assert_eq!(l.max_series, Some(200_000));
    assert_eq!(l.series_window, Duration::from_secs(3600));
    assert_eq!((l.max_queries, l.queries_per_min), (Some(4), Some(120)));
    assert_eq!(
        c.tenants[1].limits,
        TenantLimits::default(),
        "absent = unlimited"
    );
    let d = parse("").unwrap();
    assert_eq!(d.limits.replicas, 1);
    assert_eq!(d.server.header_read_timeout, Duration::from_secs(10));
}

#[test]
fn limit_errors_name_key_and_line() {
    let bad = LIMITS.replace("max_series = 200000", "max_series = 0");
    let e = err(&bad);
    assert_eq!(e.key(), Some("tenant[0].limits.max_series"), "{e}");
    assert_eq!(e.line(), Some(14), "{e}");
    let bad = LIMITS.replace("lines_per_sec = 50000, ", "");
    let e = err(&bad);
    assert_eq!(e.key(), Some("tenant[0].limits.burst_lines"), "{e}");
    assert!(e.to_string().contains("needs its rate"), "{e}");
    let e = err(&LIMITS.replace("max_queries = 4", "max_querys = 4"));
    assert_eq!(e.key(), Some("tenant[0].limits.max_querys"), "{e}");
    assert_eq!(e.line(), Some(14), "{e}");
    let e = err(&LIMITS.replace("replicas = 3", "replicas = 0"));
    assert_eq!(
        (e.key(), e.line()),
        (Some("limits.replicas"), Some(9)),
        "{e}"
    );
    let e = err(&LIMITS.replace("max_connections = 100", "max_connections = 0"));
    assert_eq!(e.key(), Some("server.max_connections"), "{e}");
}

#[test]
fn sluice_replicas_env_overrides_the_file() {
    let env = |name: &str| (name == "SLUICE_REPLICAS").then(|| "4".to_string());
    assert_eq!(
        Config::from_toml_str(LIMITS, env).unwrap().limits.replicas,
        4
    );
    let env = |name: &str| (name == "SLUICE_REPLICAS").then(|| "zero".to_string());
    let e = Config::from_toml_str(LIMITS, env).unwrap_err();
    assert!(e.to_string().contains("SLUICE_REPLICAS"), "{e}");
}

#[test]
fn redacted_dump_shows_limits_and_reads_back() {
    let c = parse(LIMITS).unwrap();
    let dump = c.redacted_toml();
    assert!(dump.contains("replicas = 3"), "{dump}");
    assert!(dump.contains("bytes_per_sec = \"16MiB\""), "{dump}");
    assert!(dump.contains("header_read_timeout = \"5s\""), "{dump}");
    let back = parse(&dump).unwrap();
    assert_eq!(back.tenants[0].limits, c.tenants[0].limits);
    assert_eq!(back.tenants[1].limits, c.tenants[1].limits);
    assert_eq!(
        back.server.max_in_flight_bytes,
        c.server.max_in_flight_bytes
    );
}

#[test]
fn store_defaults_follow_the_upstream() {
    let c = parse("data_dir = \"/d\"\n").unwrap();
    assert!(c.store.enabled, "embedded: the store is on");
    assert_eq!(c.store.dir, std::path::PathBuf::from("/d/store"));
    assert_eq!(c.store.retention, None);
    assert_eq!(c.store.flush_interval, Duration::from_secs(300));
    assert_eq!(c.store.maintenance_interval, Duration::from_secs(60));
    let c = parse("[upstream]\nurl = \"http://influx:8086\"\n").unwrap();
    assert!(!c.store.enabled, "fronting: off unless asked");
    let u = c.upstream.as_ref().unwrap();
    assert_eq!(
        (u.query_timeout, u.query_max_bytes),
        (Duration::from_secs(60), 1 << 30),
        "passthrough defaults"
    );
    assert!(parse("[upstream]\nurl = \"http://i:8086\"\nquery_max_bytes = 0\n").is_err());
    let c = parse(
        "[upstream]\nurl = \"http://influx:8086\"\n[store]\nenabled = true\nretention = \"2d\"\n",
    )
    .unwrap();
    assert!(c.store.enabled);
    assert_eq!(c.store.retention, Some(Duration::from_secs(2 * 86_400)));
}

#[test]
fn store_keys_and_tenant_retention() {
    let text = format!(
        "[store]\ndir = \"/s\"\nretention = \"forever\"\nflush_interval = \"30s\"\nflush_bytes = \"8MiB\"\nmax_buffer_bytes = \"32MiB\"\nmaintenance_interval = \"10s\"\n\
         [[tenant]]\nid = \"a\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\nretention = \"7d\"\n\
         [[tenant]]\nid = \"b\"\ntoken_sha256 = [\"{}\"]\nbuckets = [\"*\"]\n",
        hash(1),
        hash(2)
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.store.dir, std::path::PathBuf::from("/s"));
    assert_eq!(c.store.flush_bytes, 8 << 20);
    assert_eq!(c.store.max_buffer_bytes, 32 << 20);
    assert_eq!(c.store.maintenance_interval, Duration::from_secs(10));
    assert_eq!(
        c.tenants[0].retention,
        Some(Some(Duration::from_secs(7 * 86_400)))
    );
    assert_eq!(c.tenants[1].retention, None);
    // The effective config re-reads to the same values.
    let again = parse(&c.redacted_toml().replace("<redacted>", "")).unwrap();
    assert_eq!(again.store, c.store);
}

#[test]
fn store_errors_name_key_and_line() {
    let e = err("[store]\nenabled = true\nflush_every = \"1s\"\n");
    assert_eq!(e.line(), Some(3), "{e}");
    assert!(e.to_string().contains("flush_every"), "{e}");
    let e = err("[store]\nretention = \"0s\"\n");
    assert_eq!(
        (e.key(), e.line()),
        (Some("store.retention"), Some(2)),
        "{e}"
    );
    let e = err("[store]\nflush_bytes = \"64MiB\"\nmax_buffer_bytes = \"1MiB\"\n");
    assert_eq!(
        (e.key(), e.line()),
        (Some("store.max_buffer_bytes"), Some(3)),
        "{e}"
    );
}
