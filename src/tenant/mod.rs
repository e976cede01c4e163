//! Tenants: the registry (token → tenant), permissions, and upstream mapping.
//!
//! Owns: `Registry` (an immutable snapshot built from `Config`, swapped whole on reload via
//! `SharedRegistry`), `Tenant` (its buckets and resolved upstream credentials), token
//! generation/hashing (`token`), credential extraction from requests (`credentials`), the
//! v1 db/rp ↔ bucket mapping (`v1`) and the embedded-mode default tenant (`default`).
//! Does not own: limits (`limits`), HTTP status mapping (`http::error`).

mod credentials;
mod default;
pub mod token;
mod v1;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

pub use credentials::{AuthApi, Credentials};
pub use default::{DEFAULT_TENANT_FILE, DEFAULT_TENANT_ID, ensure_default_tenant};
pub use v1::{bucket_for_v1, v1_db_rp};

use crate::config::{Config, Secret, TenantConfig, UpstreamConfig};
use crate::error::{ErrorCode, HasErrorCode};
use crate::model::{BucketName, IdError, TenantId};
use token::TokenHash;

/// Errors of the tenant module.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("unable to parse authentication credentials: {reason}")]
    MalformedCredentials { reason: &'static str },
    #[error("missing db")]
    MissingDb,
    #[error("invalid db {db:?}: must not contain '/'")]
    DbWithSlash { db: String },
    #[error("invalid bucket: {0}")]
    BadBucket(#[from] IdError),
    #[error("duplicate tenant id {id:?}")]
    DuplicateTenant { id: String },
    #[error("token hash of tenant {id:?} is also used by tenant {other:?}")]
    DuplicateToken { id: String, other: String },
    #[error("default tenant file {path}: {source}")]
    DefaultTenantIo {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("default tenant file {path} is invalid: {message}")]
    DefaultTenantCorrupt {
        path: std::path::PathBuf,
        message: String,
    },
}

impl HasErrorCode for TenantError {
    fn error_code(&self) -> ErrorCode {
        match self {
            Self::MalformedCredentials { .. } => ErrorCode::Unauthorized,
            Self::MissingDb | Self::DbWithSlash { .. } | Self::BadBucket(_) => ErrorCode::Invalid,
            Self::DuplicateTenant { .. }
            | Self::DuplicateToken { .. }
            | Self::DefaultTenantIo { .. }
            | Self::DefaultTenantCorrupt { .. } => ErrorCode::Internal,
        }
    }
}

/// One entry of a tenant's `buckets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketPattern {
    /// `"*"`: every bucket.
    Any,
    Exact(BucketName),
}

impl BucketPattern {
    pub fn matches(&self, bucket: &BucketName) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(b) => b == bucket,
        }
    }
}

/// A tenant as the request path sees it. Upstream credentials are resolved
/// (the tenant's own, else `[upstream]`'s) when the registry is built.
#[derive(Debug)]
pub struct Tenant {
    id: TenantId,
    buckets: Vec<BucketPattern>,
    bucket_prefix: String,
    org: Option<String>,
    token: Option<Secret>,
    username: Option<String>,
    password: Option<Secret>,
}

impl Tenant {
    fn new(t: &TenantConfig, defaults: Option<&UpstreamConfig>) -> Self {
        let u = &t.upstream;
        Self {
            id: t.id.clone(),
            buckets: t.buckets.clone(),
            bucket_prefix: u.bucket_prefix.clone(),
            org: u
                .org
                .clone()
                .or_else(|| defaults.and_then(|d| d.org.clone())),
            token: u
                .token
                .clone()
                .or_else(|| defaults.and_then(|d| d.token.clone())),
            username: u
                .username
                .clone()
                .or_else(|| defaults.and_then(|d| d.username.clone())),
            password: u
                .password
                .clone()
                .or_else(|| defaults.and_then(|d| d.password.clone())),
        }
    }

    pub fn id(&self) -> &TenantId {
        &self.id
    }

    pub fn buckets(&self) -> &[BucketPattern] {
        &self.buckets
    }

    /// Whether the tenant may write `bucket` (listed, or `"*"`).
    pub fn can_write(&self, bucket: &BucketName) -> bool {
        self.buckets.iter().any(|p| p.matches(bucket))
    }

    /// Whether the tenant may read `bucket`: the same list as writing.
    pub fn can_read(&self, bucket: &BucketName) -> bool {
        self.can_write(bucket)
    }

    /// The bucket name upstream: `bucket_prefix` + name.
    pub fn upstream_bucket(&self, bucket: &BucketName) -> String {
        format!("{}{}", self.bucket_prefix, bucket.as_str())
    }

    /// `bucket_prefix`: what the upstream's bucket (v1: database) names start with.
    pub fn upstream_prefix(&self) -> &str {
        &self.bucket_prefix
    }

    /// Upstream org (tenant's, else `[upstream] org`).
    pub fn upstream_org(&self) -> Option<&str> {
        self.org.as_deref()
    }

    /// Upstream token (tenant's, else `[upstream] token`).
    pub fn upstream_token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// Upstream user name (tenant's, else `[upstream] username`).
    pub fn upstream_username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// Upstream password (tenant's, else `[upstream] password`).
    pub fn upstream_password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }
}

/// Token hash → tenant, immutable. Only hashes are stored.
#[derive(Debug, Default)]
pub struct Registry {
    by_token: HashMap<TokenHash, Arc<Tenant>>,
    by_id: BTreeMap<TenantId, Arc<Tenant>>,
}

impl Registry {
    /// Builds the registry from a validated config.
    pub fn from_config(config: &Config) -> Result<Self, TenantError> {
        Self::new(&config.tenants, config.upstream.as_ref())
    }

    /// Builds the registry; refuses duplicate ids or token hashes (a `Config` has none,
    /// but a hand-built tenant list might).
    pub fn new(
        tenants: &[TenantConfig],
        upstream: Option<&UpstreamConfig>,
    ) -> Result<Self, TenantError> {
        let mut reg = Self::default();
        for t in tenants {
            let tenant = Arc::new(Tenant::new(t, upstream));
            if reg.by_id.insert(t.id.clone(), tenant.clone()).is_some() {
                return Err(TenantError::DuplicateTenant {
                    id: t.id.to_string(),
                });
            }
            for h in &t.token_sha256 {
                if let Some(other) = reg.by_token.insert(*h, tenant.clone()) {
                    return Err(TenantError::DuplicateToken {
                        id: t.id.to_string(),
                        other: other.id.to_string(),
                    });
                }
            }
        }
        Ok(reg)
    }

    /// The tenant a plaintext token belongs to (looked up by its full SHA-256).
    pub fn authenticate(&self, token: &str) -> Option<Arc<Tenant>> {
        self.by_token.get(&TokenHash::of(token)).cloned()
    }

    pub fn tenant(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        self.by_id.get(id).cloned()
    }

    /// Tenants in id order.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The current registry, replaceable on reload. Readers take a snapshot (`Arc`) and hold
/// no lock while they use it.
#[derive(Debug)]
pub struct SharedRegistry(RwLock<Arc<Registry>>);

impl SharedRegistry {
    pub fn new(registry: Registry) -> Self {
        Self(RwLock::new(Arc::new(registry)))
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Registry> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the snapshot; requests already holding the old one finish with it.
    pub fn store(&self, registry: Registry) {
        let new = Arc::new(registry);
        match self.0.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

#[cfg(test)]
mod tests;
