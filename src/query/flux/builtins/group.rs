//! Regrouping and pivoting (docs/flux.md §5.2): `group`'s partitioning, `pivot`, and the
//! group-key helpers other builtins share.
//!
//! Owns: `regroup` (rows of all tables partitioned by the values of the key columns, tables
//! ordered by key, rows in input order, columns in first-appearance order) and `pivot`.

use super::Call;
use super::stream;
use crate::query::flux::FluxError;
use crate::query::flux::table::{Col, Table, key_cmp};
use crate::query::flux::value::Value;

pub fn pivot(c: &mut Call<'_, '_>) -> Result<Value, FluxError> {
    c.allow(&["rowKey", "columnKey", "valueColumn", "tables"])?;
    let row_key = c
        .strings("rowKey")?
        .ok_or_else(|| c.err("missing required argument rowKey"))?;
    let col_key = c
        .strings("columnKey")?
        .ok_or_else(|| c.err("missing required argument columnKey"))?;
    let value_col = c.req_string("valueColumn")?;
    let tables = c.tables()?;
    let key_of = |t: &Table| -> Vec<String> {
        t.key
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| !col_key.contains(k) && *k != value_col)
            .collect()
    };
    let mut out = Vec::new();
    for t in regroup(tables, &key_of).map_err(|m| c.err(m))? {
        let Some(vi) = t.idx(&value_col) else {
            continue;
        };
        let ck: Vec<usize> = col_key
            .iter()
            .map(|k| {
                t.idx(k)
                    .ok_or_else(|| c.err(format!("column {k:?} does not exist")))
            })
            .collect::<Result<_, _>>()?;
        let rk: Vec<usize> = row_key
            .iter()
            .map(|k| {
                t.idx(k)
                    .ok_or_else(|| c.err(format!("column {k:?} does not exist")))
            })
            .collect::<Result<_, _>>()?;
        let mut rows: Vec<PivotRow> = Vec::new();
        let mut new_cols: Vec<String> = Vec::new();
        for row in &t.rows {
            let rkv: Vec<Value> = rk.iter().map(|&i| row[i].clone()).collect();
            let name = ck
                .iter()
                .map(|&i| crate::query::flux::interp::display(&row[i]))
                .collect::<Vec<_>>()
                .join("_");
            if !new_cols.contains(&name) {
                new_cols.push(name.clone());
            }
            let slot = match rows.iter().position(|(k, _)| *k == rkv) {
                Some(p) => p,
                None => {
                    let mut base = key_row(&t);
                    for (j, &i) in rk.iter().enumerate() {
                        if !t.in_key(&row_key[j]) {
                            base.push((t.cols[i].name.clone(), row[i].clone()));
                        }
                    }
                    rows.push((rkv, base));
                    rows.len() - 1
                }
            };
            let r = &mut rows[slot].1;
            match r.iter_mut().find(|(k, _)| *k == name) {
                Some(cell) => cell.1 = row[vi].clone(),
                None => r.push((name, row[vi].clone())),
            }
        }
        rows.sort_by(|a, b| {
            a.0.iter()
                .zip(&b.0)
                .map(|(x, y)| x.sort_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        new_cols.sort();
        let vty = t.cols[vi].ty;
        let order: Vec<Col> = t
            .cols
            .iter()
            .filter(|col| t.in_key(&col.name) || row_key.contains(&col.name))
            .cloned()
            .chain(new_cols.iter().map(|n| Col {
                name: n.clone(),
                ty: vty,
            }))
            .collect();
        let rows: Vec<Vec<(String, Value)>> = rows
            .into_iter()
            .map(|(_, mut r)| {
                for n in &new_cols {
                    if !r.iter().any(|(k, _)| k == n) {
                        r.push((n.clone(), Value::Null));
                    }
                }
                r
            })
            .collect();
        out.push(Table::from_rows(t.key.clone(), &order, rows).map_err(|m| c.err(m))?);
    }
    Ok(stream(out))
}

/// A pivoted row: its row-key values, its cells.
type PivotRow = (Vec<Value>, Vec<(String, Value)>);

/// The key columns of a table, in column order.
pub fn key_cols(t: &Table) -> Vec<Col> {
    t.cols
        .iter()
        .filter(|c| t.in_key(&c.name))
        .cloned()
        .collect()
}

/// A row holding only the key columns' values, in column order.
pub fn key_row(t: &Table) -> Vec<(String, Value)> {
    key_cols(t)
        .into_iter()
        .map(|c| {
            let v = t.key_value(&c.name).cloned().unwrap_or(Value::Null);
            (c.name, v)
        })
        .collect()
}

/// Rows of all tables partitioned by the values of `key_of(table)` columns; tables ordered by
/// key; rows keep their input order; columns in first-appearance order.
pub fn regroup(
    tables: Vec<Table>,
    key_of: &dyn Fn(&Table) -> Vec<String>,
) -> Result<Vec<Table>, String> {
    type Group = (Vec<(String, Value)>, Vec<Col>, Vec<Vec<(String, Value)>>);
    let mut groups: Vec<Group> = Vec::new();
    for t in tables {
        let mut key_names = key_of(&t);
        key_names.sort();
        let key_idx: Vec<usize> = key_names.iter().filter_map(|k| t.idx(k)).collect();
        let mut add = |key: Vec<(String, Value)>, row: Option<Vec<(String, Value)>>| {
            let g = match groups.iter().position(|g| g.0 == key) {
                Some(g) => g,
                None => {
                    groups.push((key, Vec::new(), Vec::new()));
                    groups.len() - 1
                }
            };
            for col in &t.cols {
                if !groups[g].1.iter().any(|c| c.name == col.name) {
                    groups[g].1.push(col.clone());
                }
            }
            if let Some(r) = row {
                groups[g].2.push(r);
            }
        };
        if t.rows.is_empty() {
            let key = key_idx
                .iter()
                .map(|&i| {
                    (
                        t.cols[i].name.clone(),
                        t.key_value(&t.cols[i].name).cloned().unwrap_or(Value::Null),
                    )
                })
                .collect();
            add(key, None);
            continue;
        }
        for r in 0..t.rows.len() {
            let key: Vec<(String, Value)> = key_idx
                .iter()
                .map(|&i| (t.cols[i].name.clone(), t.rows[r][i].clone()))
                .collect();
            let mut key = key;
            key.sort_by(|a, b| a.0.cmp(&b.0));
            add(key, Some(t.named_row(r)));
        }
    }
    groups.sort_by(|a, b| key_cmp(&a.0, &b.0));
    groups
        .into_iter()
        .map(|(key, order, rows)| {
            let order: Vec<Col> = order;
            let rows = rows
                .into_iter()
                .map(|r| {
                    let mut r = r;
                    for col in &order {
                        if !r.iter().any(|(k, _)| *k == col.name) {
                            r.push((col.name.clone(), Value::Null));
                        }
                    }
                    r
                })
                .collect();
            Table::from_rows(key, &order, rows)
        })
        .collect()
}
