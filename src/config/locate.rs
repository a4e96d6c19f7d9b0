//! Where in a configuration file a key is, for error messages.
//!
//! A validation error names a dotted key (`alarms.hr_high.medium`); its
//! line comes from the TOML parser's own spans, so a key set in a table
//! header, as a dotted key or inside an inline table is found where it is
//! written, quoted or not.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// 1-based line of the key `dotted` in `text`: where its last part is
/// written. When the file does not set the key itself: `None`, or with
/// `exact == false` the line of the deepest part of its path the file does
/// set (the table it would go in).
pub(super) fn line_of(text: &str, dotted: &str, exact: bool) -> Option<usize> {
    let (found, span) = key_span(text, dotted)?;
    (found || !exact).then(|| line_col(text, span.start).0)
}

/// The span of the deepest part of `dotted`'s path that `text` sets, and
/// whether that is the whole key.
fn key_span(text: &str, dotted: &str) -> Option<(bool, Range<usize>)> {
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut deepest = None;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let Some((key, value)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *part) else { break };
        deepest = Some((i + 1 == parts.len(), key.span()));
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    deepest
}

/// 1-based line and column of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// The dotted key defined on the line holding `offset`, with its table.
pub(super) fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let mut table = String::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        let trimmed = strip_comment(line).trim();
        if let Some(header) = table_header(trimmed) {
            table = header;
            if (start..end).contains(&offset) {
                return Some(table);
            }
        } else if (start..end).contains(&offset) {
            let (key, _) = trimmed.split_once('=')?;
            let key = normalise_key(key);
            return Some(if table.is_empty() { key } else { format!("{table}.{key}") });
        }
        start = end;
    }
    None
}

fn strip_comment(line: &str) -> &str {
    // Good enough for keys and headers: vigil's config has no `#` in strings.
    line.split('#').next().unwrap_or("")
}

fn table_header(trimmed: &str) -> Option<String> {
    let inner = trimmed.strip_prefix('[')?.strip_suffix(']')?;
    let inner = inner.trim_start_matches('[').trim_end_matches(']');
    Some(normalise_key(inner))
}

fn normalise_key(key: &str) -> String {
    key.split('.').map(|part| part.trim().trim_matches('"')).collect::<Vec<_>>().join(".")
}
