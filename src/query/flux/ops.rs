//! Flux's binary operators on values (docs/flux.md §3.2).
//!
//! Owns: comparison, regex match, logic, arithmetic; nulls and `Unknown` propagate.
//! Operands of arithmetic must have the same type (Flux does not convert int and float).

use std::cmp::Ordering;
use std::sync::Arc;

use super::value::Value;

pub fn binary(op: &str, l: Value, r: Value) -> Result<Value, String> {
    use Value::*;
    match op {
        "and" | "or" => {
            let b = |v: &Value| match v {
                Bool(b) => Ok(Some(*b)),
                Null => Ok(Some(false)),
                Unknown => Ok(None),
                other => Err(format!(
                    "{op} needs bool operands, got {}",
                    other.type_name()
                )),
            };
            let (a, c) = (b(&l)?, b(&r)?);
            return Ok(match (op, a, c) {
                ("and", Some(false), _) | ("and", _, Some(false)) => Bool(false),
                ("and", Some(true), Some(true)) => Bool(true),
                ("or", Some(true), _) | ("or", _, Some(true)) => Bool(true),
                ("or", Some(false), Some(false)) => Bool(false),
                _ => Unknown,
            });
        }
        _ => {}
    }
    if matches!(l, Unknown) || matches!(r, Unknown) {
        return Ok(Unknown);
    }
    if l.is_null() || r.is_null() {
        return Ok(Null);
    }
    match op {
        "=~" | "!~" => {
            let (Str(s), Regex(re)) = (&l, &r) else {
                return Err(format!(
                    "{op} needs a string and a regex, got {} and {}",
                    l.type_name(),
                    r.type_name()
                ));
            };
            Ok(Bool(re.is_match(s) == (op == "=~")))
        }
        "==" | "!=" | "<" | "<=" | ">" | ">=" => {
            let ord = l.compare(&r).ok_or_else(|| {
                format!(
                    "cannot compare {} with {} using {op}",
                    l.type_name(),
                    r.type_name()
                )
            })?;
            Ok(Bool(match op {
                "==" => ord == Ordering::Equal,
                "!=" => ord != Ordering::Equal,
                "<" => ord == Ordering::Less,
                "<=" => ord != Ordering::Greater,
                ">" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        _ => arith(op, l, r),
    }
}

/// Arithmetic operator `op` on two floats (`None`: not one), as `binary` computes it: a caller
/// applying one operator to many floats resolves it once.
pub fn float_op(op: &str) -> Option<fn(f64, f64) -> f64> {
    Some(match op {
        "+" => |a, b| a + b,
        "-" => |a, b| a - b,
        "*" => |a, b| a * b,
        "/" => |a, b| a / b,
        "%" => |a, b| a % b,
        "^" => f64::powf,
        _ => return None,
    })
}

fn arith(op: &str, l: Value, r: Value) -> Result<Value, String> {
    use Value::*;
    let mismatch = || {
        format!(
            "type error: {} {op} {} (operands of {op} must have the same type)",
            l.type_name(),
            r.type_name()
        )
    };
    Ok(match (&l, &r) {
        (Int(a), Int(b)) => {
            let (a, b) = (*a, *b);
            Int(match op {
                "+" => a.wrapping_add(b),
                "-" => a.wrapping_sub(b),
                "*" => a.wrapping_mul(b),
                "/" | "%" if b == 0 => return Err("integer division by zero".to_owned()),
                "/" => a.wrapping_div(b),
                "%" => a.wrapping_rem(b),
                "^" => return Ok(Float((a as f64).powf(b as f64))),
                _ => return Err(mismatch()),
            })
        }
        (UInt(a), UInt(b)) => {
            let (a, b) = (*a, *b);
            UInt(match op {
                "+" => a.wrapping_add(b),
                "-" => a.wrapping_sub(b),
                "*" => a.wrapping_mul(b),
                "/" | "%" if b == 0 => return Err("integer division by zero".to_owned()),
                "/" => a / b,
                "%" => a % b,
                "^" => return Ok(Float((a as f64).powf(b as f64))),
                _ => return Err(mismatch()),
            })
        }
        (Float(a), Float(b)) => match float_op(op) {
            Some(f) => Float(f(*a, *b)),
            None => return Err(mismatch()),
        },
        (Str(a), Str(b)) if op == "+" => Str(Arc::from(format!("{a}{b}"))),
        (Duration(am, an), Duration(bm, bn)) if op == "+" || op == "-" => {
            let s = if op == "+" { 1 } else { -1 };
            Duration(am + s * bm, an.saturating_add(s * bn))
        }
        _ => return Err(mismatch()),
    })
}
