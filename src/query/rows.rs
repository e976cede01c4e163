//! A series' rows held one after another in one vector: an answer of tens of thousands of rows
//! is then one allocation, not one per row (building and freeing those was ~6 % of a large
//! answer's CPU, and most of a SHOW answer's).
//!
//! Owns: `Rows`. Does not own: what a row holds (`result::Datum`), encoding rows.

use std::ops::Index;

use super::result::Datum;

/// Rows of `width` cells each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    width: usize,
    cells: Vec<Datum>,
}

impl Rows {
    /// No rows yet, of `width` cells each.
    pub fn new(width: usize) -> Self {
        Self::with_capacity(width, 0)
    }

    /// No rows yet, of `width` cells each, with room for `rows`.
    fn with_capacity(width: usize, rows: usize) -> Self {
        Self {
            width,
            cells: Vec::with_capacity(width.saturating_mul(rows)),
        }
    }

    pub fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// Room for `rows` more rows.
    pub fn reserve(&mut self, rows: usize) {
        self.cells.reserve(self.width.saturating_mul(rows));
    }

    /// Appends one row of exactly `width` cells.
    pub fn push(&mut self, row: impl IntoIterator<Item = Datum>) {
        let before = self.cells.len();
        self.cells.extend(row);
        debug_assert_eq!(
            self.cells.len() - before,
            self.width,
            "a row of another width"
        );
    }

    /// Appends one row of two cells (`width` 2): pushed one by one, without the moves of a
    /// row built first.
    pub fn push_pair(&mut self, a: Datum, b: Datum) {
        debug_assert_eq!(self.width, 2, "a pair in rows of another width");
        self.cells.push(a);
        self.cells.push(b);
    }

    /// The rows, in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'_, Datum> {
        // `max(1)`: a zero width holds no cells, so no rows either way.
        self.cells.chunks_exact(self.width.max(1))
    }

    /// Rows `start..end` (clamped to the rows there are), copied.
    pub fn slice(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.len());
        let start = start.min(end);
        Self {
            width: self.width,
            cells: self.cells[start * self.width..end * self.width].to_vec(),
        }
    }

    /// Keeps `limit` rows after skipping `offset`.
    pub fn page(&mut self, offset: usize, limit: usize) {
        let start = offset.min(self.len());
        let end = start.saturating_add(limit).min(self.len());
        self.cells.truncate(end * self.width);
        self.cells.drain(..start * self.width);
    }

    /// Rows `vecs`, each of `width` cells.
    pub fn from_vecs(width: usize, vecs: Vec<Vec<Datum>>) -> Self {
        let mut rows = Self::with_capacity(width, vecs.len());
        for r in vecs {
            rows.push(r);
        }
        rows
    }
}

impl Index<usize> for Rows {
    type Output = [Datum];

    fn index(&self, row: usize) -> &[Datum] {
        &self.cells[row * self.width..(row + 1) * self.width]
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a [Datum];
    type IntoIter = std::slice::ChunksExact<'a, Datum>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Rows equal rows given one vector each (as tests write them).
impl PartialEq<Vec<Vec<Datum>>> for Rows {
    fn eq(&self, other: &Vec<Vec<Datum>>) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(rows: &[&[i64]]) -> Vec<Vec<Datum>> {
        rows.iter()
            .map(|r| r.iter().map(|&i| Datum::Integer(i)).collect())
            .collect()
    }

    #[test]
    fn rows_are_pushed_read_and_paged() {
        let want = ints(&[&[1, 2], &[3, 4], &[5, 6]]);
        let rows = Rows::from_vecs(2, want.clone());
        assert_eq!(rows.len(), 3);
        assert_eq!(rows, want);
        assert_eq!(&rows[1], &[Datum::Integer(3), Datum::Integer(4)][..]);
        assert_eq!(rows.slice(1, 9), ints(&[&[3, 4], &[5, 6]]));
        assert_eq!(rows.slice(4, 9), ints(&[]));
        for (offset, limit, page) in [
            (0, 2, ints(&[&[1, 2], &[3, 4]])),
            (1, usize::MAX, ints(&[&[3, 4], &[5, 6]])),
            (2, 5, ints(&[&[5, 6]])),
            (3, 1, ints(&[])),
            (9, 1, ints(&[])),
        ] {
            let mut r = rows.clone();
            r.page(offset, limit);
            assert_eq!(r, page, "offset {offset} limit {limit}");
        }
        assert!(Rows::new(0).is_empty());
        assert_eq!(Rows::new(0).iter().count(), 0);
        let mut pairs = Rows::new(2);
        pairs.push_pair(Datum::Integer(1), Datum::Integer(2));
        pairs.push([Datum::Integer(3), Datum::Integer(4)]);
        assert_eq!(pairs, ints(&[&[1, 2], &[3, 4]]));
    }
}
