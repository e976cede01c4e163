//! Splitting a request body into lines, as InfluxDB's `scanLine` + `ParsePointsWithPrecision` do.
//!
//! Owns: where one line ends and which lines are skipped (blank, comment). Does not own: whether
//! a line is valid (see `parse`).

/// Spaces, tabs and NUL: what Go's `skipWhitespace` skips.
#[inline(always)]
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == 0
}

#[inline(always)]
pub(crate) fn skip_blank(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_blank(buf[i]) {
        i += 1;
    }
    i
}

/// Iterator over the lines of a body; see [`split_lines`](super::split_lines).
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Self { body, pos: 0 }
    }
}

/// End (exclusive, may exceed `buf.len()` by one as in Go) of the line starting at `start`.
#[inline]
fn scan_line(buf: &[u8], start: usize) -> usize {
    let rest = &buf[start..];
    // Quotes and backslashes are the only bytes that can move the split point.
    match memchr::memchr3(b'\n', b'"', b'\\', rest) {
        None => buf.len(),
        Some(o) if rest[o] == b'\n' => start + o,
        Some(_) => scan_line_slow(buf, start),
    }
}

/// Go's `scanLine`, byte for byte.
fn scan_line_slow(buf: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut quoted = false;
    let mut fields = false;
    let mut equals = 0usize;
    let mut commas = 0usize;
    while i < buf.len() {
        let b = buf[i];
        if b == b'\\' {
            i += 2;
            continue;
        }
        if b == b' ' {
            fields = true;
        }
        if fields {
            if !quoted && b == b'=' {
                i += 1;
                equals += 1;
                continue;
            } else if !quoted && b == b',' {
                i += 1;
                commas += 1;
                continue;
            } else if b == b'"' && equals > commas {
                i += 1;
                quoted = !quoted;
                continue;
            }
        }
        if b == b'\n' && !quoted {
            break;
        }
        i += 1;
    }
    i
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let body = self.body;
        while self.pos < body.len() {
            let end = scan_line(body, self.pos);
            // Go slices `buf[start:i]` even when a final backslash pushed `i` one past the end;
            // we stop at the end of the body instead.
            let block = &body[self.pos..end.min(body.len())];
            self.pos = end + 1;
            if block.is_empty() {
                continue;
            }
            let s = skip_blank(block, 0);
            if s >= block.len() || block[s] == b'#' {
                continue;
            }
            // A '\n' can only end a block when a backslash skipped over it.
            let block = match block.split_last() {
                Some((b'\n', head)) => head,
                _ => block,
            };
            return Some(&block[s.min(block.len())..]);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::split_lines;

    fn lines(body: &str) -> Vec<String> {
        split_lines(body.as_bytes())
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn splits_skips_blank_and_comments() {
        let body = "# comment only\n   # indented comment\ncpu value=1i 1000000000\n\n\
                    cpu value=2i 2000000000\n#cpu value=1\n \t\n";
        assert_eq!(
            lines(body),
            ["cpu value=1i 1000000000", "cpu value=2i 2000000000"]
        );
        assert!(lines("").is_empty());
        assert_eq!(lines("\tcpu value=1"), ["cpu value=1"]);
        assert_eq!(lines("#foo value=1\nbar value=1"), ["bar value=1"]);
    }

    #[test]
    fn newline_inside_string_does_not_split() {
        assert_eq!(
            lines("cpu value=\"line1\nline2\" 1000000000\nnext v=1"),
            ["cpu value=\"line1\nline2\" 1000000000", "next v=1"]
        );
        // A quote in a tag is literal: the newline ends the line.
        assert_eq!(
            lines("baz,mytag=\"a x=1 1441103862125\nb v=1"),
            ["baz,mytag=\"a x=1 1441103862125", "b v=1"]
        );
        // An escaped quote keeps the string open across the newline.
        assert_eq!(
            lines("cpu value=\"test\\\"\nx v=1"),
            ["cpu value=\"test\\\"\nx v=1"]
        );
    }

    #[test]
    fn backslash_newline_and_crlf() {
        assert_eq!(lines("a v=1 0\\\n"), ["a v=1 0\\"]);
        assert_eq!(lines("a v=1 0\\"), ["a v=1 0\\"]);
        assert_eq!(
            lines("cpu value=1\r\ncpu value=2\r\n"),
            ["cpu value=1\r", "cpu value=2\r"]
        );
        // A comment is scanned like a line first: its quote swallows the next newline.
        assert_eq!(lines("# a b=\"x\ncpu v=1\"\nz v=1"), ["z v=1"]);
    }
}
