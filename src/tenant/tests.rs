#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::Config;

fn config() -> Config {
    let text = format!(
        r#"
[upstream]
url = "http://influx:8086"
org = "main"
token = "global-token"
username = "gw"
[[tenant]]
id = "acme"
token_sha256 = ["{}", "{}"]
buckets = ["telegraf", "telegraf/weekly"]
upstream = {{ org = "acme", token = "acme-token", bucket_prefix = "acme_" }}
[[tenant]]
id = "wild"
token_sha256 = ["{}"]
buckets = ["*"]
"#,
        token::hash("acme-1"),
        token::hash("acme-2"),
        token::hash("wild-1"),
    );
    Config::from_toml_str(&text, |_| None).unwrap()
}

fn b(s: &str) -> BucketName {
    BucketName::new(s).unwrap()
}

#[test]
fn authenticate_by_token_hash() {
    let reg = Registry::from_config(&config()).unwrap();
    assert_eq!(reg.len(), 2);
    assert_eq!(reg.authenticate("acme-1").unwrap().id().as_str(), "acme");
    assert_eq!(reg.authenticate("acme-2").unwrap().id().as_str(), "acme");
    assert_eq!(reg.authenticate("wild-1").unwrap().id().as_str(), "wild");
    assert!(reg.authenticate("acme-").is_none());
    assert!(reg.authenticate("").is_none());
    assert!(
        reg.authenticate(&token::hash("acme-1")).is_none(),
        "the hash is not a token"
    );
}

#[test]
fn permissions_listed_and_wildcard() {
    let reg = Registry::from_config(&config()).unwrap();
    let acme = reg.authenticate("acme-1").unwrap();
    assert!(acme.can_write(&b("telegraf")));
    assert!(acme.can_write(&b("telegraf/weekly")));
    assert!(!acme.can_write(&b("telegraf/daily")));
    assert!(!acme.can_write(&b("other")));
    assert!(!acme.can_read(&b("other")));
    let wild = reg.authenticate("wild-1").unwrap();
    assert!(wild.can_write(&b("anything")));
    assert!(wild.can_read(&b("x/y")));
}

#[test]
fn upstream_mapping_with_fallback() {
    let reg = Registry::from_config(&config()).unwrap();
    let acme = reg.tenant(&TenantId::new("acme").unwrap()).unwrap();
    assert_eq!(acme.upstream_bucket(&b("telegraf")), "acme_telegraf");
    assert_eq!(acme.upstream_org(), Some("acme"));
    assert_eq!(acme.upstream_token().unwrap().expose(), "acme-token");
    assert_eq!(acme.upstream_username(), Some("gw"));
    assert!(acme.upstream_password().is_none());
    let wild = reg.tenant(&TenantId::new("wild").unwrap()).unwrap();
    assert_eq!(wild.upstream_bucket(&b("telegraf")), "telegraf");
    assert_eq!(wild.upstream_org(), Some("main"));
    assert_eq!(wild.upstream_token().unwrap().expose(), "global-token");
}

#[test]
fn hand_built_duplicates_are_refused() {
    let c = config();
    let mut dup = c.tenants.clone();
    dup.push(c.tenants[0].clone());
    assert!(matches!(
        Registry::new(&dup, None),
        Err(TenantError::DuplicateTenant { .. })
    ));
    let mut other = c.tenants[1].clone();
    other.id = TenantId::new("other").unwrap();
    let tenants = vec![c.tenants[1].clone(), other];
    assert!(matches!(
        Registry::new(&tenants, None),
        Err(TenantError::DuplicateToken { .. })
    ));
}

#[test]
fn shared_registry_swaps_snapshots() {
    let shared = SharedRegistry::new(Registry::default());
    let old = shared.load();
    assert!(old.authenticate("acme-1").is_none());
    shared.store(Registry::from_config(&config()).unwrap());
    assert!(shared.load().authenticate("acme-1").is_some());
    assert!(old.is_empty(), "an old snapshot stays as it was");
}
