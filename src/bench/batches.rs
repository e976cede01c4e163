//! Pre-generated write requests: lines → batches per tenant → (optionally gzipped) bodies with
//! their URL and credentials, all built before the clock starts.
//!
//! Owns: tenant specs (`id:token:bucket`), the v1/v2 request shape, and the pool. Does not own:
//! the line content (`generate`) or sending (`load`).

use std::io::Write as _;

use base64::Engine as _;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::BenchError;
use super::generate::Fleet;

/// Which InfluxDB write API a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Api {
    /// `POST /write?db=BUCKET`, `Authorization: Basic base64(ID:TOKEN)`.
    V1,
    /// `POST /api/v2/write?org=ID&bucket=BUCKET`, `Authorization: Token TOKEN`.
    V2,
}

/// One tenant as the load generator sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TenantSpec {
    pub id: String,
    #[serde(skip)]
    pub token: String,
    pub bucket: String,
}

impl std::str::FromStr for TenantSpec {
    type Err = BenchError;

    /// `id:token:bucket`; an empty token sends no `Authorization` header.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut it = s.splitn(3, ':');
        match (it.next(), it.next(), it.next()) {
            (Some(id), Some(token), Some(bucket)) if !id.is_empty() && !bucket.is_empty() => {
                Ok(TenantSpec {
                    id: id.to_owned(),
                    token: token.to_owned(),
                    bucket: bucket.to_owned(),
                })
            }
            _ => Err(BenchError::BadTenant { spec: s.to_owned() }),
        }
    }
}

/// Reads tenant specs, one `id:token:bucket` per line (`#` comments and blank lines skipped).
pub fn read_tenants_file(path: &std::path::Path) -> Result<Vec<TenantSpec>, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BenchError::Io {
        what: format!("reading {}", path.display()),
        source,
    })?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::parse)
        .collect()
}

/// One ready-to-send request.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Path and query, e.g. `/write?db=telegraf`.
    pub path: String,
    /// `Authorization` value, if any.
    pub auth: Option<String>,
    pub body: Bytes,
    pub gzip: bool,
    pub lines: u64,
    /// Uncompressed line-protocol bytes.
    pub raw_bytes: u64,
}

/// How to build the pool.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    pub fleet: Fleet,
    pub tenants: Vec<TenantSpec>,
    pub api: Api,
    pub gzip: bool,
    pub batch_lines: u64,
    /// Total lines in the pool (rounded up to whole batches per tenant).
    pub lines: u64,
}

/// Builds every batch: tenant `t`'s lines `0..` cut into `batch_lines`, tenants interleaved
/// batch by batch, so a pool sent in order walks time forward for every tenant.
pub fn build_pool(spec: &PoolSpec) -> Vec<Batch> {
    let nt = spec.tenants.len().max(1) as u64;
    let per_tenant = spec.lines.div_ceil(nt);
    let batch = spec.batch_lines.max(1);
    let batches_per_tenant = per_tenant.div_ceil(batch);
    let jobs: Vec<(usize, u64)> = (0..batches_per_tenant)
        .flat_map(|b| (0..spec.tenants.len()).map(move |t| (t, b)))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(t, b)| {
                            make_batch(spec, t, b * batch, batch.min(per_tenant - b * batch))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn make_batch(spec: &PoolSpec, tenant: usize, first: u64, n: u64) -> Batch {
    let t = &spec.tenants[tenant];
    let tenant_no = u32::try_from(tenant).unwrap_or(u32::MAX);
    let mut text = String::with_capacity(usize::try_from(n * 450).unwrap_or(0));
    for j in first..first + n {
        spec.fleet
            .write_line(spec.fleet.tenant_line_index(tenant_no, j), &mut text);
    }
    let raw_bytes = text.len() as u64;
    let body = if spec.gzip {
        let mut e = GzEncoder::new(Vec::with_capacity(text.len() / 5), Compression::default());
        // Writing to a Vec cannot fail.
        let _ = e.write_all(text.as_bytes());
        Bytes::from(e.finish().unwrap_or_default())
    } else {
        Bytes::from(text.into_bytes())
    };
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let (path, auth) = match spec.api {
        Api::V1 => (
            format!("/write?db={}&precision=ns", enc(&t.bucket)),
            (!t.token.is_empty()).then(|| {
                let cred = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", t.id, t.token));
                format!("Basic {cred}")
            }),
        ),
        Api::V2 => (
            format!(
                "/api/v2/write?org={}&bucket={}&precision=ns",
                enc(&t.id),
                enc(&t.bucket)
            ),
            (!t.token.is_empty()).then(|| format!("Token {}", t.token)),
        ),
    };
    Batch {
        path,
        auth,
        body,
        gzip: spec.gzip,
        lines: n,
        raw_bytes,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn spec(gzip: bool, api: Api) -> PoolSpec {
        PoolSpec {
            fleet: Fleet {
                tenants: 2,
                devices: 3,
                interfaces: 4,
                seed: 7,
                start_ns: 1_000_000_000_000_000_000,
            },
            tenants: vec!["a:ta:b1".parse().unwrap(), "b::b2".parse().unwrap()],
            api,
            gzip,
            batch_lines: 7,
            lines: 40,
        }
    }

    #[test]
    fn pool_holds_each_tenants_lines_once_in_order() {
        let s = spec(false, Api::V2);
        let pool = build_pool(&s);
        assert_eq!(pool.iter().map(|b| b.lines).sum::<u64>(), 40);
        let a: String = pool
            .iter()
            .filter(|b| b.path.contains("bucket=b1"))
            .map(|b| std::str::from_utf8(&b.body).unwrap().to_owned())
            .collect();
        let want: String = (0..20)
            .map(|j| s.fleet.line(s.fleet.tenant_line_index(0, j)) + "\n")
            .collect();
        assert_eq!(a, want);
        assert_eq!(pool[0].auth.as_deref(), Some("Token ta"));
        assert_eq!(pool[1].auth, None);
    }

    #[test]
    fn gzip_bodies_inflate_to_the_raw_lines_and_v1_uses_basic() {
        use std::io::Read as _;
        let pool = build_pool(&spec(true, Api::V1));
        let mut out = String::new();
        flate2::read::GzDecoder::new(&pool[0].body[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out.len() as u64, pool[0].raw_bytes);
        assert_eq!(out.lines().count() as u64, pool[0].lines);
        assert!(pool[0].path.starts_with("/write?db=b1"));
        assert_eq!(pool[0].auth.as_deref(), Some("Basic YTp0YQ=="));
    }

    #[test]
    fn tenant_spec_needs_id_and_bucket() {
        assert!("x".parse::<TenantSpec>().is_err());
        assert!(":t:b".parse::<TenantSpec>().is_err());
        let t: TenantSpec = "acme:s3:cr:et:telegraf".parse().unwrap();
        assert_eq!(
            (t.token.as_str(), t.bucket.as_str()),
            ("s3", "cr:et:telegraf")
        );
    }
}
