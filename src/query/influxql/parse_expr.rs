//! InfluxQL expressions: precedence climbing over InfluxDB's operators, unary signs, calls,
//! variable references with casts, literals.
//!
//! Owns: `Parser::parse_expr` and what it calls. Does not own: tokens (`lexer`), clauses.

use super::ast::{BinaryOp, DataType, DurationLit, Expr, WildcardKind};
use super::lexer::{At, Tok};
use super::literal::parse_duration;
use super::parser::{MAX_EXPR_DEPTH, MAX_NESTING, ParseError, Parser};

impl Parser<'_> {
    /// One expression: InfluxDB's precedence, left-associative.
    pub(super) fn parse_expr(&mut self) -> Result<Expr, ParseError> {
        let start = self.scan_ws();
        self.unscan();
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(MAX_NESTING, start.at));
        }
        let (lhs, depth) = self.parse_unary()?;
        let (e, _) = self.climb(lhs, depth, 1, start.at)?;
        self.nesting -= 1;
        Ok(e)
    }

    /// Precedence climbing from `lhs` over operators of precedence `min` and up. Gives the
    /// same tree as InfluxDB's insertion along the right spine, including after a regex
    /// operator (its right side is the regex, which higher operators then take as their left).
    fn climb(
        &mut self,
        mut lhs: Expr,
        mut depth: usize,
        min: u8,
        at: At,
    ) -> Result<(Expr, usize), ParseError> {
        loop {
            let t = self.scan_ws();
            let Some(op) = binary_op(t.tok) else {
                self.unscan();
                return Ok((lhs, depth));
            };
            if op.precedence() < min {
                self.unscan();
                return Ok((lhs, depth));
            }
            let (rhs, rdepth) = if matches!(op, BinaryOp::EqRegex | BinaryOp::NeqRegex) {
                let Some(re) = self.parse_regex()? else {
                    let t = self.scan_ws();
                    return Err(self.unexpected(&t, &["regex"]));
                };
                self.climb(Expr::Regex(re), 1, op.precedence() + 1, at)?
            } else {
                let (first, d) = self.parse_unary()?;
                self.climb(first, d, op.precedence() + 1, at)?
            };
            depth = depth.max(rdepth) + 1;
            if depth > MAX_EXPR_DEPTH {
                return Err(self.too_deep(MAX_EXPR_DEPTH, at));
            }
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
    }

    /// A non-binary expression, with its tree depth.
    fn parse_unary(&mut self) -> Result<(Expr, usize), ParseError> {
        let t = self.scan_ws();
        match t.tok {
            Tok::LParen => {
                let e = self.parse_expr()?;
                let close = self.scan_ws();
                if close.tok != Tok::RParen {
                    return Err(self.unexpected(&close, &[")"]));
                }
                let d = expr_depth(&e);
                Ok((Expr::Paren(Box::new(e)), d + 1))
            }
            Tok::Ident => {
                if self.scan().tok == Tok::LParen {
                    let call = self.parse_call(&t.lit, t.at)?;
                    let d = expr_depth(&call);
                    return Ok((call, d));
                }
                self.unscan();
                self.unscan();
                Ok((self.parse_var_ref()?, 1))
            }
            Tok::Keyword if t.kw == "DISTINCT" => {
                let t0 = self.scan();
                match t0.tok {
                    Tok::LParen => {
                        let call = self.parse_call("distinct", t.at)?;
                        let d = expr_depth(&call);
                        Ok((call, d))
                    }
                    Tok::Ws => {
                        let t1 = self.scan_ws();
                        if t1.tok != Tok::Ident {
                            return Err(self.unexpected(&t1, &["identifier"]));
                        }
                        Ok((Expr::Distinct(t1.lit), 1))
                    }
                    _ => Err(self.unexpected(&t0, &["(", "identifier"])),
                }
            }
            Tok::Str => Ok((Expr::String(t.lit), 1)),
            Tok::Number => match t.lit.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok((Expr::Float(v), 1)),
                _ => Err(self.error_at("unable to parse number".to_owned(), t.at)),
            },
            Tok::Integer => {
                if let Ok(v) = t.lit.parse::<i64>() {
                    Ok((Expr::Integer(v), 1))
                } else if let Ok(v) = t.lit.parse::<u64>() {
                    Ok((Expr::Unsigned(v), 1))
                } else {
                    Err(self.error_at("unable to parse integer".to_owned(), t.at))
                }
            }
            Tok::True => Ok((Expr::Boolean(true), 1)),
            Tok::False => Ok((Expr::Boolean(false), 1)),
            Tok::Duration => {
                let nanos = parse_duration(&t.lit).map_err(|e| ParseError::Invalid {
                    message: e.to_string(),
                })?;
                Ok((Expr::Duration(DurationLit { nanos, text: t.lit }), 1))
            }
            Tok::Mul => {
                let t0 = self.scan();
                if t0.tok != Tok::DoubleColon {
                    self.unscan();
                    return Ok((Expr::Wildcard(None), 1));
                }
                let t1 = self.scan();
                let kind = if t1.is_kw("FIELD") {
                    WildcardKind::Field
                } else if t1.is_kw("TAG") {
                    WildcardKind::Tag
                } else {
                    return Err(self.unexpected(&t1, &["field", "tag"]));
                };
                Ok((Expr::Wildcard(Some(kind)), 1))
            }
            Tok::BoundParam => {
                let message = match t.lit.strip_prefix('$').unwrap_or_default() {
                    "" => "empty bound parameter".to_owned(),
                    name => format!("missing parameter: {name}"),
                };
                Err(ParseError::Invalid { message })
            }
            Tok::Add | Tok::Sub => self.parse_signed(t.tok == Tok::Sub),
            _ => Err(self.unexpected(&t, &["identifier", "string", "number", "bool"])),
        }
    }

    /// After a unary `+`/`-`: a literal takes the sign; a variable, call or parenthesised
    /// expression `x` becomes `±1 * x`.
    fn parse_signed(&mut self, negative: bool) -> Result<(Expr, usize), ParseError> {
        let t0 = self.scan_ws();
        if !matches!(
            t0.tok,
            Tok::Number | Tok::Integer | Tok::Duration | Tok::LParen | Tok::Ident
        ) {
            return Err(self.unexpected(&t0, &["identifier", "number", "duration", "("]));
        }
        self.unscan();
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(MAX_NESTING, t0.at));
        }
        let (inner, depth) = self.parse_unary()?;
        self.nesting -= 1;
        let signed = match inner {
            Expr::Float(v) if negative => Expr::Float(-v),
            Expr::Integer(v) if negative => Expr::Integer(-v),
            Expr::Unsigned(v) if negative => {
                if v == 1u64 << 63 {
                    Expr::Integer(i64::MIN)
                } else {
                    let message = format!("constant -{v} underflows int64");
                    return Err(ParseError::Invalid { message });
                }
            }
            Expr::Duration(d) if negative => Expr::Duration(DurationLit {
                nanos: -d.nanos,
                text: format!("-{}", d.text),
            }),
            e @ (Expr::VarRef { .. } | Expr::Call { .. } | Expr::Paren(_)) => {
                let sign = Expr::Integer(if negative { -1 } else { 1 });
                return Ok((
                    Expr::Binary {
                        op: BinaryOp::Mul,
                        lhs: Box::new(sign),
                        rhs: Box::new(e),
                    },
                    depth + 1,
                ));
            }
            other => other,
        };
        Ok((signed, depth))
    }

    /// `name(args…)`, after `name(`.
    fn parse_call(&mut self, name: &str, at: At) -> Result<Expr, ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_deep(MAX_NESTING, at));
        }
        let name = name.to_ascii_lowercase();
        let mut args = Vec::new();
        if let Some(re) = self.parse_regex()? {
            args.push(Expr::Regex(re));
        } else {
            if self.scan().tok == Tok::RParen {
                self.nesting -= 1;
                return Ok(Expr::Call { name, args });
            }
            self.unscan();
            args.push(self.parse_expr()?);
        }
        loop {
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                break;
            }
            if let Some(re) = self.parse_regex()? {
                args.push(Expr::Regex(re));
                continue;
            }
            args.push(self.parse_expr()?);
        }
        let t = self.scan();
        if t.tok != Tok::RParen {
            return Err(self.unexpected(&t, &[")"]));
        }
        self.nesting -= 1;
        Ok(Expr::Call { name, args })
    }

    /// `a`, `"a"."b"` (joined with `.`), with an optional `::type`.
    fn parse_var_ref(&mut self) -> Result<Expr, ParseError> {
        let segments = self.parse_segmented_idents()?;
        let mut data_type = None;
        if self.scan().tok == Tok::DoubleColon {
            let t = self.scan();
            data_type = Some(match t.tok {
                Tok::Ident => match t.lit.to_ascii_lowercase().as_str() {
                    "float" => DataType::Float,
                    "integer" => DataType::Integer,
                    "unsigned" => DataType::Unsigned,
                    "string" => DataType::String,
                    "boolean" => DataType::Boolean,
                    _ => {
                        let expected = &[
                            "float", "integer", "unsigned", "string", "boolean", "field", "tag",
                        ];
                        return Err(self.unexpected(&t, expected));
                    }
                },
                Tok::Keyword if t.kw == "FIELD" => DataType::Field,
                Tok::Keyword if t.kw == "TAG" => DataType::Tag,
                _ => {
                    let expected = &["float", "integer", "string", "boolean", "field", "tag"];
                    return Err(self.unexpected(&t, expected));
                }
            });
        } else {
            self.unscan();
        }
        Ok(Expr::VarRef {
            name: segments.join("."),
            data_type,
        })
    }
}

fn binary_op(tok: Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::Add => BinaryOp::Add,
        Tok::Sub => BinaryOp::Sub,
        Tok::Mul => BinaryOp::Mul,
        Tok::Div => BinaryOp::Div,
        Tok::Mod => BinaryOp::Mod,
        Tok::BitAnd => BinaryOp::BitAnd,
        Tok::BitOr => BinaryOp::BitOr,
        Tok::BitXor => BinaryOp::BitXor,
        Tok::And => BinaryOp::And,
        Tok::Or => BinaryOp::Or,
        Tok::Eq => BinaryOp::Eq,
        Tok::Neq => BinaryOp::Neq,
        Tok::EqRegex => BinaryOp::EqRegex,
        Tok::NeqRegex => BinaryOp::NeqRegex,
        Tok::Lt => BinaryOp::Lt,
        Tok::Lte => BinaryOp::Lte,
        Tok::Gt => BinaryOp::Gt,
        Tok::Gte => BinaryOp::Gte,
        _ => return None,
    })
}

/// The depth of an expression built by `parse_expr` (which bounded it), without recursion
/// deeper than the tree: parenthesised and call subtrees count from their own root.
fn expr_depth(e: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(e, 1usize)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        match e {
            Expr::Binary { lhs, rhs, .. } => {
                stack.push((lhs, d + 1));
                stack.push((rhs, d + 1));
            }
            Expr::Paren(inner) => stack.push((inner, d + 1)),
            Expr::Call { args, .. } => stack.extend(args.iter().map(|a| (a, d + 1))),
            _ => {}
        }
    }
    max
}
