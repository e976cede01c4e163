//! The embedded-mode default tenant: created at first start when there is no config file.
//!
//! Owns: `<data_dir>/default-tenant.toml` (mode 0600), which holds the token's SHA-256,
//! never the token. The plaintext is returned once, on the call that creates the file,
//! for the caller to print. Delete the file to get a new token at the next start.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::token::{self, TokenHash};
use super::{BucketPattern, TenantError};
use crate::config::{TenantConfig, TenantUpstream};
use crate::model::TenantId;

/// File name under the data dir.
pub const DEFAULT_TENANT_FILE: &str = "default-tenant.toml";
/// The default tenant's id.
pub const DEFAULT_TENANT_ID: &str = "default";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    id: String,
    token_sha256: Vec<String>,
}

/// Loads the default tenant (every bucket allowed), creating it with a new token if
/// `<data_dir>/default-tenant.toml` does not exist. Returns the plaintext token only
/// when it was just created.
pub fn ensure_default_tenant(
    data_dir: &Path,
) -> Result<(TenantConfig, Option<String>), TenantError> {
    let path = data_dir.join(DEFAULT_TENANT_FILE);
    let io = |source| TenantError::DefaultTenantIo {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((parse(&path, &text)?, None)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let plaintext = token::generate();
            let hash = TokenHash::of(&plaintext);
            std::fs::create_dir_all(data_dir).map_err(io)?;
            write_private(&path, &render(hash)).map_err(io)?;
            Ok((tenant(hash), Some(plaintext)))
        }
        Err(e) => Err(io(e)),
    }
}

fn tenant(hash: TokenHash) -> TenantConfig {
    TenantConfig {
        id: TenantId::new(DEFAULT_TENANT_ID).expect("\"default\" is a valid tenant id"),
        token_sha256: vec![hash],
        buckets: vec![BucketPattern::Any],
        upstream: TenantUpstream::default(),
        limits: crate::config::TenantLimits::default(),
        retention: None,
    }
}

fn render(hash: TokenHash) -> String {
    format!(
        "# sluice embedded-mode default tenant (every bucket). Its token was printed once at\n\
         # first start; only its SHA-256 is kept. Delete this file for a new token.\n\
         id = \"{DEFAULT_TENANT_ID}\"\n\
         token_sha256 = [\"{hash}\"]\n"
    )
}

fn parse(path: &Path, text: &str) -> Result<TenantConfig, TenantError> {
    let corrupt = |message: String| TenantError::DefaultTenantCorrupt {
        path: path.to_path_buf(),
        message,
    };
    let f: File = toml::from_str(text).map_err(|e| corrupt(e.message().to_string()))?;
    if f.id != DEFAULT_TENANT_ID {
        return Err(corrupt(format!("id must be {DEFAULT_TENANT_ID:?}")));
    }
    let [hash] = f.token_sha256.as_slice() else {
        return Err(corrupt("token_sha256 must hold exactly one hash".into()));
    };
    let hash = TokenHash::parse(hash).map_err(|e| corrupt(e.to_string()))?;
    Ok(tenant(hash))
}

/// Writes `text` to `path` atomically (temp file, fsync, rename), readable by the owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp: PathBuf = path.with_extension("toml.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::BucketName;
    use crate::tenant::Registry;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (t1, tok) = ensure_default_tenant(&data).unwrap();
        let tok = tok.expect("first call returns the token");
        assert!(tok.starts_with("slc_"));
        assert_eq!(t1.id.as_str(), "default");
        assert_eq!(t1.token_sha256, vec![TokenHash::of(&tok)]);

        let text = std::fs::read_to_string(data.join(DEFAULT_TENANT_FILE)).unwrap();
        assert!(!text.contains(&tok), "plaintext must not be stored");
        assert!(text.contains(&token::hash(&tok)));

        let (t2, again) = ensure_default_tenant(&data).unwrap();
        assert!(again.is_none());
        assert_eq!(t2.token_sha256, t1.token_sha256);

        let reg = Registry::new(&[t2], None).unwrap();
        let tenant = reg.authenticate(&tok).unwrap();
        assert!(tenant.can_write(&BucketName::new("anything").unwrap()));
        assert!(reg.authenticate("slc_wrong").is_none());
    }

    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        ensure_default_tenant(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(DEFAULT_TENANT_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn corrupt_file_is_an_error_not_a_new_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DEFAULT_TENANT_FILE);
        std::fs::write(&path, "id = \"default\"\ntoken_sha256 = [\"nothex\"]\n").unwrap();
        assert!(matches!(
            ensure_default_tenant(dir.path()),
            Err(TenantError::DefaultTenantCorrupt { .. })
        ));
        std::fs::write(&path, "garbage = = =").unwrap();
        assert!(ensure_default_tenant(dir.path()).is_err());
    }
}
