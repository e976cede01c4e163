//! Arithmetic and comparisons on result values, with InfluxQL's typing rules (as InfluxDB
//! 1.x's `influxql.ValuerEval` applies them): integer `/` integer is a float, division by zero
//! is zero, a null operand gives null (arithmetic) or false (comparison), floats absorb
//! integers, unsigned mixes with integers as unsigned.

use std::cmp::Ordering;

use crate::query::plan::{BinOp, CmpOp};
use crate::query::result::Datum;

/// `l op r` for the select list (integer division yields a float).
pub fn arith(l: &Datum, op: BinOp, r: &Datum) -> Datum {
    use Datum::{Boolean as B, Float as F, Integer as I, Null, String as S, Unsigned as U};
    if matches!(l, F(_)) || matches!(r, F(_)) {
        return match (as_f64(l), as_f64(r)) {
            (Some(a), Some(b)) => float_op(a, op, b),
            _ => Null,
        };
    }
    match (l, r) {
        (I(a), I(b)) => int_op(*a, op, *b),
        (U(a), U(b)) => uint_op(*a, op, *b),
        (I(a), U(b)) => uint_op(*a as u64, op, *b),
        (U(a), I(b)) => uint_op(*a, op, *b as u64),
        (B(a), B(b)) => match op {
            BinOp::BitAnd => B(*a && *b),
            BinOp::BitOr => B(*a || *b),
            BinOp::BitXor => B(*a != *b),
            _ => Null,
        },
        (S(a), S(b)) if op == BinOp::Add => S(format!("{a}{b}").into()),
        _ => Null,
    }
}

fn as_f64(d: &Datum) -> Option<f64> {
    match d {
        Datum::Float(f) => Some(*f),
        Datum::Integer(i) => Some(*i as f64),
        Datum::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

fn float_op(a: f64, op: BinOp, b: f64) -> Datum {
    Datum::Float(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div if b == 0.0 => 0.0,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        _ => return Datum::Null,
    })
}

fn int_op(a: i64, op: BinOp, b: i64) -> Datum {
    Datum::Integer(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div if b == 0 => return Datum::Float(0.0),
        BinOp::Div => return Datum::Float(a as f64 / b as f64),
        BinOp::Mod if b == 0 => 0,
        BinOp::Mod => a.wrapping_rem(b),
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::BitXor => a ^ b,
    })
}

fn uint_op(a: u64, op: BinOp, b: u64) -> Datum {
    Datum::Unsigned(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div | BinOp::Mod if b == 0 => 0,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::BitXor => a ^ b,
    })
}

/// `l op r` in a condition: false when either side is null or the types do not compare.
pub fn compare(l: &Datum, op: CmpOp, r: &Datum) -> bool {
    use Datum::{Boolean as B, Integer as I, String as S, Unsigned as U};
    let ord = match (l, r) {
        (Datum::Null, _) | (_, Datum::Null) => return false,
        (S(a), S(b)) => {
            return match op {
                CmpOp::Eq => a == b,
                CmpOp::Neq => a != b,
                _ => false,
            };
        }
        (B(a), B(b)) => {
            return match op {
                CmpOp::Eq => a == b,
                CmpOp::Neq => a != b,
                _ => false,
            };
        }
        (I(a), I(b)) => a.cmp(b),
        (U(a), U(b)) => a.cmp(b),
        (I(a), U(b)) => {
            if *a < 0 {
                Ordering::Less
            } else {
                (*a as u64).cmp(b)
            }
        }
        (U(a), I(b)) => {
            if *b < 0 {
                Ordering::Greater
            } else {
                a.cmp(&(*b as u64))
            }
        }
        _ => match (as_f64(l), as_f64(r)) {
            (Some(a), Some(b)) => match a.partial_cmp(&b) {
                Some(o) => o,
                // NaN: only `!=` holds.
                None => return op == CmpOp::Neq,
            },
            _ => return false,
        },
    };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Neq => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Lte => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Gte => ord != Ordering::Less,
    }
}

/// NaN is answered as null (InfluxDB does the same before encoding).
pub fn nan_to_null(d: Datum) -> Datum {
    match d {
        Datum::Float(f) if f.is_nan() => Datum::Null,
        d => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Datum::{Float as F, Integer as I, Null, Unsigned as U};

    #[test]
    fn integer_division_is_float_and_zero_divisor_is_zero() {
        assert_eq!(arith(&I(7), BinOp::Div, &I(2)), F(3.5));
        assert_eq!(arith(&I(7), BinOp::Div, &I(0)), F(0.0));
        assert_eq!(arith(&F(7.0), BinOp::Div, &F(0.0)), F(0.0));
        assert_eq!(arith(&I(7), BinOp::Mod, &I(0)), I(0));
        assert_eq!(arith(&I(7), BinOp::Mul, &I(8)), I(56));
    }

    #[test]
    fn floats_absorb_integers_and_null_propagates() {
        assert_eq!(arith(&I(2), BinOp::Add, &F(0.5)), F(2.5));
        assert_eq!(arith(&F(2.0), BinOp::Mul, &U(3)), F(6.0));
        assert_eq!(arith(&Null, BinOp::Add, &F(1.0)), Null);
        assert_eq!(arith(&U(2), BinOp::Sub, &I(1)), U(1));
    }

    #[test]
    fn comparisons_cross_numeric_types_and_null_is_false() {
        assert!(compare(&I(2), CmpOp::Lt, &F(2.5)));
        assert!(compare(&U(3), CmpOp::Gt, &I(-1)));
        assert!(!compare(&Null, CmpOp::Neq, &I(1)));
        assert!(compare(
            &Datum::String("a".into()),
            CmpOp::Neq,
            &Datum::String("b".into())
        ));
        assert!(!compare(&Datum::String("a".into()), CmpOp::Eq, &I(1)));
    }
}
