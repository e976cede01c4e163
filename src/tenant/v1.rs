//! InfluxDB v1 `db`/`rp` ↔ bucket, as InfluxDB 2's virtual DBRP mapping does it:
//! bucket `foo` is db `foo` with the default rp (`autogen`), bucket `foo/bar` is db `foo`, rp `bar`.

use super::TenantError;
use crate::model::BucketName;

/// The bucket a v1 request (`/write?db=&rp=`, `/query?db=&rp=`) addresses:
/// `rp` absent, empty or `autogen` → `db`; otherwise `db/rp`.
pub fn bucket_for_v1(db: &str, rp: Option<&str>) -> Result<BucketName, TenantError> {
    if db.is_empty() {
        return Err(TenantError::MissingDb);
    }
    if db.contains('/') {
        return Err(TenantError::DbWithSlash { db: db.to_string() });
    }
    let name = match rp {
        None | Some("") | Some("autogen") => BucketName::new(db)?,
        Some(rp) => BucketName::new(&format!("{db}/{rp}"))?,
    };
    Ok(name)
}

/// The v1 `db` and `rp` for forwarding `bucket` to a v1 upstream: split at the first `/`.
pub fn v1_db_rp(bucket: &BucketName) -> (&str, Option<&str>) {
    match bucket.as_str().split_once('/') {
        Some((db, rp)) => (db, Some(rp)),
        None => (bucket.as_str(), None),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b(s: &str) -> BucketName {
        BucketName::new(s).unwrap()
    }

    #[test]
    fn default_rp_is_the_bare_db() {
        assert_eq!(bucket_for_v1("telegraf", None).unwrap(), b("telegraf"));
        assert_eq!(bucket_for_v1("telegraf", Some("")).unwrap(), b("telegraf"));
        assert_eq!(
            bucket_for_v1("telegraf", Some("autogen")).unwrap(),
            b("telegraf")
        );
    }

    #[test]
    fn other_rp_is_db_slash_rp() {
        assert_eq!(
            bucket_for_v1("telegraf", Some("weekly")).unwrap(),
            b("telegraf/weekly")
        );
    }

    #[test]
    fn bad_db_is_refused() {
        assert!(matches!(
            bucket_for_v1("", None),
            Err(TenantError::MissingDb)
        ));
        assert!(matches!(
            bucket_for_v1("a/b", None),
            Err(TenantError::DbWithSlash { .. })
        ));
        assert!(matches!(
            bucket_for_v1("a\nb", None),
            Err(TenantError::BadBucket(_))
        ));
    }

    #[test]
    fn inverse_splits_at_first_slash() {
        assert_eq!(v1_db_rp(&b("telegraf")), ("telegraf", None));
        assert_eq!(
            v1_db_rp(&b("telegraf/weekly")),
            ("telegraf", Some("weekly"))
        );
        assert_eq!(v1_db_rp(&b("a/b/c")), ("a", Some("b/c")));
        for (db, rp) in [("x", None), ("x", Some("y"))] {
            let bucket = bucket_for_v1(db, rp).unwrap();
            assert_eq!(v1_db_rp(&bucket), (db, rp));
        }
    }
}
