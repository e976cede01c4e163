//! Credentials in a request, in InfluxDB's order. Pure: headers and query string in,
//! `Credentials` out; the registry decides whether the token is valid.
//!
//! v2 routes (`/api/v2/*`): `Authorization: Token T` or `Bearer T` (scheme case-insensitive).
//! v1 routes (`/write`, `/query`): `?u=&p=` (both non-empty; `p` is the token), then
//! `Authorization: Token T`, `Token user:T`, `Bearer T`, or `Basic base64(user:T)`
//! (any user name; the password is the token).

use std::fmt;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;

use super::TenantError;

/// Which API dialect a route speaks, which decides the accepted schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthApi {
    V1,
    V2,
}

/// What a request presented. `token: None` means no credentials at all (a 401).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub token: Option<String>,
    pub username: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("username", &self.username)
            .finish()
    }
}

fn malformed(reason: &'static str) -> TenantError {
    TenantError::MalformedCredentials { reason }
}

impl Credentials {
    /// Extracts credentials from a request's headers and raw query string (`uri.query()`).
    /// A present but unreadable `Authorization` header is an error (answer 401).
    pub fn from_request(
        headers: &HeaderMap,
        query: Option<&str>,
        api: AuthApi,
    ) -> Result<Self, TenantError> {
        if api == AuthApi::V1
            && let Some(c) = from_query(query)
        {
            return Ok(c);
        }
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Ok(Self::default());
        };
        let value = value
            .to_str()
            .map_err(|_| malformed("authorization header is not visible ascii"))?;
        from_authorization(value, api)
    }
}

fn from_query(query: Option<&str>) -> Option<Credentials> {
    let (mut u, mut p) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query?.as_bytes()) {
        match &*k {
            "u" if u.is_none() => u = Some(v.into_owned()),
            "p" if p.is_none() => p = Some(v.into_owned()),
            _ => {}
        }
    }
    match (u, p) {
        (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some(Credentials {
            token: Some(p),
            username: Some(u),
        }),
        _ => None,
    }
}

fn from_authorization(value: &str, api: AuthApi) -> Result<Credentials, TenantError> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(' ')
        .ok_or_else(|| malformed("authorization header has no scheme"))?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(malformed("authorization header has no credentials"));
    }
    let scheme = scheme.to_ascii_lowercase();
    match (scheme.as_str(), api) {
        ("token", AuthApi::V1) => match rest.split_once(':') {
            Some((user, token)) => credentials(Some(user), token),
            None => credentials(None, rest),
        },
        ("token" | "bearer", _) => credentials(None, rest),
        ("basic", AuthApi::V1) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| malformed("basic credentials are not base64"))?;
            let text =
                String::from_utf8(raw).map_err(|_| malformed("basic credentials are not utf-8"))?;
            let (user, token) = text
                .split_once(':')
                .ok_or_else(|| malformed("basic credentials have no ':'"))?;
            credentials(Some(user), token)
        }
        _ => Err(malformed("unsupported authorization scheme")),
    }
}

fn credentials(user: Option<&str>, token: &str) -> Result<Credentials, TenantError> {
    if token.is_empty() {
        return Err(malformed("empty token"));
    }
    Ok(Credentials {
        token: Some(token.to_string()),
        username: user.filter(|u| !u.is_empty()).map(str::to_string),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    fn get(
        auth: Option<&str>,
        query: Option<&str>,
        api: AuthApi,
    ) -> Result<Credentials, TenantError> {
        let h = auth.map_or_else(HeaderMap::new, headers);
        Credentials::from_request(&h, query, api)
    }

    fn token(c: Result<Credentials, TenantError>) -> Option<String> {
        c.unwrap().token
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn nothing_presented_is_no_token() {
        assert_eq!(
            get(None, None, AuthApi::V2).unwrap(),
            Credentials::default()
        );
        assert_eq!(
            get(None, Some("db=x"), AuthApi::V1).unwrap(),
            Credentials::default()
        );
    }

    #[test]
    fn token_and_bearer_any_case() {
        for api in [AuthApi::V1, AuthApi::V2] {
            assert_eq!(token(get(Some("Token abc"), None, api)), Some("abc".into()));
            assert_eq!(token(get(Some("token abc"), None, api)), Some("abc".into()));
            assert_eq!(
                token(get(Some("Bearer abc"), None, api)),
                Some("abc".into())
            );
            assert_eq!(
                token(get(Some("BEARER  abc "), None, api)),
                Some("abc".into())
            );
        }
    }

    #[test]
    fn v1_token_user_colon_token() {
        let c = get(Some("Token alice:secret"), None, AuthApi::V1).unwrap();
        assert_eq!(c.token.as_deref(), Some("secret"));
        assert_eq!(c.username.as_deref(), Some("alice"));
        // v2 does not split: the whole value is the token.
        assert_eq!(
            token(get(Some("Token alice:secret"), None, AuthApi::V2)),
            Some("alice:secret".into())
        );
    }

    #[test]
    fn v1_query_params_first_and_both_required() {
        let c = get(
            Some("Token header"),
            Some("db=x&u=bob&p=tok%2Fen"),
            AuthApi::V1,
        )
        .unwrap();
        assert_eq!(c.token.as_deref(), Some("tok/en"));
        assert_eq!(c.username.as_deref(), Some("bob"));
        // Missing or empty u: fall through to the header.
        assert_eq!(
            token(get(Some("Token header"), Some("p=x"), AuthApi::V1)),
            Some("header".into())
        );
        assert_eq!(
            token(get(Some("Token header"), Some("u=&p=x"), AuthApi::V1)),
            Some("header".into())
        );
        // v2 routes ignore u/p.
        assert_eq!(
            get(None, Some("u=bob&p=x"), AuthApi::V2).unwrap().token,
            None
        );
    }

    #[test]
    fn v1_basic_password_is_token() {
        let c = get(
            Some(&format!("Basic {}", b64("anyone:tok:with:colons"))),
            None,
            AuthApi::V1,
        )
        .unwrap();
        assert_eq!(c.token.as_deref(), Some("tok:with:colons"));
        assert_eq!(c.username.as_deref(), Some("anyone"));
        let c = get(Some(&format!("basic {}", b64(":tok"))), None, AuthApi::V1).unwrap();
        assert_eq!((c.token.as_deref(), c.username), (Some("tok"), None));
    }

    #[test]
    fn malformed_headers_are_errors() {
        let bad = [
            "Basic !!!notbase64".to_string(),
            format!("Basic {}", b64("no-colon")),
            format!("Basic {}", b64("user:")),
            "Token".to_string(),
            "Token   ".to_string(),
            "Digest abc".to_string(),
            "abc".to_string(),
            "Token user:".to_string(),
        ];
        for h in &bad {
            let r = get(Some(h), None, AuthApi::V1);
            assert!(
                matches!(r, Err(TenantError::MalformedCredentials { .. })),
                "{h:?} gave {r:?}"
            );
        }
        // Basic is not a v2 scheme.
        assert!(get(Some(&format!("Basic {}", b64("u:t"))), None, AuthApi::V2).is_err());
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Token \xff").unwrap(),
        );
        assert!(Credentials::from_request(&h, None, AuthApi::V2).is_err());
    }

    #[test]
    fn debug_hides_the_token() {
        let c = get(Some("Token supersecret"), None, AuthApi::V2).unwrap();
        assert!(!format!("{c:?}").contains("supersecret"));
    }
}
