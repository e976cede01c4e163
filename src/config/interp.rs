//! `${NAME}` interpolation in string values, and locating a byte offset in the document
//! as a key path and line, for error messages.
//!
//! Owns: walking the parsed TOML tree (before serde sees it). Interpolation is per value,
//! so a secret containing quotes cannot change the TOML structure. `$${` writes a literal `${`.
//! Does not own: what the values mean.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;

/// Replaces `${NAME}` in every string value of `root` with `env(NAME)`.
pub(super) fn interpolate(
    text: &str,
    root: &mut DeTable<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    walk_table(text, root, &mut Vec::new(), env)
}

fn walk_table(
    text: &str,
    table: &mut DeTable<'_>,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (k, v) in table.iter_mut() {
        path.push(k.get_ref().to_string());
        walk_value(text, v, path, env)?;
        path.pop();
    }
    Ok(())
}

fn walk_value(
    text: &str,
    v: &mut Spanned<DeValue<'_>>,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let span = v.span();
    match v.get_mut() {
        DeValue::String(s) => {
            if s.contains('$') {
                let key = join_path(path);
                let line = line_col(text, span.start).0;
                let replaced = expand(s, env).map_err(|e| match e {
                    ExpandError::Unset(var) => ConfigError::EnvUnset { key, line, var },
                    ExpandError::Syntax(message) => ConfigError::Invalid {
                        key: join_path(path),
                        line,
                        message,
                    },
                })?;
                *s = Cow::Owned(replaced);
            }
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                walk_value(text, item, path, env)?;
                path.pop();
            }
        }
        DeValue::Table(t) => walk_table(text, t, path, env)?,
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
    }
    Ok(())
}

enum ExpandError {
    Unset(String),
    Syntax(String),
}

fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or_else(|| {
                ExpandError::Syntax("unterminated `${` (write `$${` for a literal `${`)".into())
            })?;
            let name = &tail[..end];
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(ExpandError::Syntax(format!(
                    "invalid environment variable name {name:?} in `${{...}}`"
                )));
            }
            let value = env(name).ok_or_else(|| ExpandError::Unset(name.to_string()))?;
            out.push_str(&value);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn join_path(path: &[String]) -> String {
    let mut s = String::new();
    for p in path {
        if !s.is_empty() && !p.starts_with('[') {
            s.push('.');
        }
        s.push_str(p);
    }
    s
}

/// 1-based line and column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted key path (`tenant[1].upstream.token`) of the innermost key or value
/// containing `offset`; empty at the top level.
pub(super) fn key_path_at(root: &DeTable<'_>, offset: usize) -> String {
    let mut path = Vec::new();
    find_in_table(root, offset, &mut path);
    join_path(&path)
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

fn find_in_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> bool {
    for (k, v) in table.iter() {
        path.push(k.get_ref().to_string());
        if contains(&k.span(), offset) || find_in_value(v, offset, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_value(v: &Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<String>) -> bool {
    let inner = match v.get_ref() {
        DeValue::Table(t) => find_in_table(t, offset, path),
        DeValue::Array(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(format!("[{i}]"));
            let found = find_in_value(item, offset, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    };
    inner || contains(&v.span(), offset)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "QUOTE" => Some("he said \"hi\"\n".into()),
            _ => None,
        }
    }

    #[test]
    fn expand_replaces_and_escapes() {
        let e = |s| expand(s, &env).ok();
        assert_eq!(e("x${A}y"), Some("xalphay".into()));
        assert_eq!(e("${A}${A}"), Some("alphaalpha".into()));
        assert_eq!(e("$${A}"), Some("${A}".into()));
        assert_eq!(e("cost $5"), Some("cost $5".into()));
        assert_eq!(e("${QUOTE}"), Some("he said \"hi\"\n".into()));
        assert!(matches!(expand("${B}", &env), Err(ExpandError::Unset(v)) if v == "B"));
        assert!(matches!(expand("${A", &env), Err(ExpandError::Syntax(_))));
        assert!(matches!(
            expand("${a-b}", &env),
            Err(ExpandError::Syntax(_))
        ));
    }

    #[test]
    fn line_and_column() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
    }

    #[test]
    fn key_paths() {
        let t = "x = 1\n[s]\ny = \"v\"\n[[t]]\nz = 1\n[[t]]\nz = 2\nu = { w = 3 }\n";
        let root = DeTable::parse(t).unwrap();
        let at = |needle: &str| key_path_at(root.get_ref(), t.find(needle).unwrap());
        assert_eq!(at("x"), "x");
        assert_eq!(at("\"v\""), "s.y");
        assert_eq!(at("z = 2"), "t[1].z");
        assert_eq!(at("w ="), "t[1].u.w");
        assert_eq!(at("3 }"), "t[1].u.w");
    }
}
