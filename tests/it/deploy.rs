//! What `deploy/` and `telegraf/` configure, against a real sluice.
//!
//! - `telegraf/telegraf.conf` and `telegraf-v1.conf`: the output section, read as Telegraf
//!   reads it (`${VAR}` replaced before parsing), gives the URL, auth and bucket of the
//!   requests Telegraf then sends (wire.md §1.1, §1.4); those exact requests are accepted.
//! - Every `sluice.toml` of `deploy/` passes `sluice config check` with the variables
//!   `deploy.sh` puts in the Secret sluice-tenants.
//!
//! The offline checks (schemas, project rules, yamllint, shellcheck) are in deploy/check/.

use std::path::{Path, PathBuf};
use std::process::Command;

use toml::{Table, Value};

use crate::support::sluice::{Sluice, SluiceConfig, sluice_bin, token_sha256};
use crate::support::telegraf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Telegraf's config loading: `${NAME}` replaced from `env` outside comments, then TOML.
fn telegraf_config(path: &Path, env: &[(&str, &str)]) -> Table {
    let text = std::fs::read_to_string(path).expect("read telegraf config");
    let re = regex::Regex::new(r"\$\{(\w+)\}").expect("static regex");
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(&re.replace_all(line, |c: &regex::Captures<'_>| {
                env.iter()
                    .find(|(k, _)| *k == &c[1])
                    .map(|(_, v)| (*v).to_owned())
                    .unwrap_or_else(|| panic!("{}: ${{{}}} not set", path.display(), &c[1]))
            }));
        }
        out.push('\n');
    }
    out.parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()))
}

fn str_at<'a>(t: &'a Value, key: &str) -> &'a str {
    t.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} missing in {t}"))
}

const LINES: &str = "interface,agent_host=10.0.0.1,hostname=core1,ifDescr=GigabitEthernet1/0/1,ifName=Gi1/0/1 ifHCInOctets=123456789012i,ifHCOutOctets=98765432109i,ifOperStatus=1i 1717236000000000000\n\
ping,host=telegraf-01,url=10.0.0.1 average_response_ms=11.402,percent_packet_loss=0 1717236000000000000\n";

fn env_for<'a>(url: &'a str, token: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("SLUICE_URL", url),
        ("SLUICE_TOKEN", token),
        ("SLUICE_ORG", "acme"),
        ("SLUICE_BUCKET", "telegraf"),
        ("SLUICE_TENANT", "acme"),
        ("SNMP_AGENTS", r#"["udp://192.0.2.1:161"]"#),
        ("SNMP_COMMUNITY", "public"),
        ("PING_URLS", r#"["192.0.2.1"]"#),
    ]
}

fn sluice_for_telegraf() -> Sluice {
    let cfg = SluiceConfig::new()
        .simple_tenant("acme", "tok-acme", &["telegraf"])
        .to_toml();
    Sluice::start(&cfg)
}

#[test]
fn telegraf_conf_v2_output_writes_are_accepted() {
    let s = sluice_for_telegraf();
    let url = s.url();
    let conf = telegraf_config(
        &repo().join("telegraf/telegraf.conf"),
        &env_for(&url, "tok-acme"),
    );
    let out = &conf["outputs"]["influxdb_v2"][0];
    let urls = out["urls"].as_array().expect("urls");
    assert_eq!(urls.len(), 1);
    assert_eq!(
        out.get("content_encoding").and_then(Value::as_str),
        Some("gzip")
    );
    // POST {url}/api/v2/write?bucket=..&org=.., Authorization: Token .., gzip, chunked.
    let r = telegraf::v2_write(
        urls[0].as_str().expect("url"),
        str_at(out, "bucket"),
        str_at(out, "organization"),
        str_at(out, "token"),
        LINES,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // The same request with another tenant's token is refused (the token names the tenant).
    let bad = telegraf_config(
        &repo().join("telegraf/telegraf.conf"),
        &env_for(&url, "nope"),
    );
    let out = &bad["outputs"]["influxdb_v2"][0];
    let r = telegraf::v2_write(
        &url,
        str_at(out, "bucket"),
        "acme",
        str_at(out, "token"),
        LINES,
    );
    assert_eq!(r.status, 401);
}

#[test]
fn telegraf_v1_conf_output_writes_are_accepted() {
    let s = sluice_for_telegraf();
    let url = s.url();
    let conf = telegraf_config(
        &repo().join("telegraf/telegraf-v1.conf"),
        &env_for(&url, "tok-acme"),
    );
    let out = &conf["outputs"]["influxdb"][0];
    let base = out["urls"][0].as_str().expect("url");
    let db = str_at(out, "database");
    let auth = Some((str_at(out, "username"), str_at(out, "password")));
    // Start-up: CREATE DATABASE, then the write; Telegraf v1 accepts only 204.
    let r = telegraf::v1_create_database(base, db, auth);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = telegraf::v1_write(base, db, auth, LINES);
    assert_eq!(r.status, 204, "{}", r.text());
}

/// Every sluice.toml under deploy/ with the environment deploy.sh gives the pod.
fn deploy_configs() -> Vec<PathBuf> {
    let mut v = vec![repo().join("deploy/base/sluice.toml")];
    let overlays = std::fs::read_dir(repo().join("deploy/overlays")).expect("overlays");
    for o in overlays {
        let p = o.expect("dir entry").path().join("sluice.toml");
        if p.exists() {
            v.push(p);
        }
    }
    assert!(v.len() >= 3, "{v:?}");
    v
}

fn config_check(path: &Path, text: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sluice.toml");
    std::fs::write(&file, text).expect("write config");
    let mut cmd = Command::new(sluice_bin());
    cmd.args(["config", "check"]).arg(&file);
    // deploy.sh: <TENANT>_TOKEN_SHA256 and <TENANT>_INFLUX_TOKEN for every [[tenant]].
    let re = regex::Regex::new(r"\$\{(\w+)\}").expect("static regex");
    for c in re.captures_iter(text) {
        let name = &c[1];
        let value = if name.ends_with("_TOKEN_SHA256") {
            token_sha256(name)
        } else {
            format!("secret-{name}")
        };
        cmd.env(name, value);
    }
    cmd.env("SLUICE_REPLICAS", "2");
    let out = cmd.output().expect("run sluice config check");
    assert!(
        out.status.success(),
        "{}: sluice config check failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The section another issue is adding (`[[downsample]]`) removed: the rest must already be
/// valid.
#[test]
fn deploy_configs_pass_config_check_without_pending_sections() {
    for path in deploy_configs() {
        let text = std::fs::read_to_string(&path).expect("read");
        let mut t: Table = text.parse().expect("TOML");
        t.remove("downsample");
        config_check(&path, &toml::to_string(&t).expect("serialize"));
    }
}

/// The deploy configs as they are, `[[downsample]]` rules included.
#[test]
fn deploy_configs_pass_config_check() {
    for path in deploy_configs() {
        let text = std::fs::read_to_string(&path).expect("read");
        config_check(&path, &text);
    }
}
