//! Input text quoted back in an error message.
//!
//! An error names what was wrong with the input, but the input may be
//! 5,000 characters long or carry terminal escape sequences (a pasted or
//! hostile stream line, a command-line value, a configuration key). Echoed
//! as is, it would flood the message or drive the terminal that shows it
//! (clear the screen, retitle the window). What an error quotes goes
//! through [`excerpt`].

/// Characters of input an error message quotes at most.
pub const MAX_CHARS: usize = 80;

/// `text` as an error may show it: control and other invisible characters
/// escaped as `escape_debug` writes them (`\u{1b}`, `\n`, `\u{202e}`), cut
/// to [`MAX_CHARS`] characters with `…` when longer.
#[must_use]
pub fn excerpt(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CHARS * 2) + 4);
    for (shown, c) in text.chars().enumerate() {
        if shown == MAX_CHARS {
            out.push('…');
            return out;
        }
        push_visible(&mut out, c);
    }
    out
}

/// `c`, or its escape if it is invisible. Not `escape_debug` throughout:
/// it would also backslash quotes, which are harmless and common in a
/// quoted value.
fn push_visible(out: &mut String, c: char) {
    if !(c.is_control() || is_invisible_format(c)) {
        out.push(c);
    } else if matches!(c, '\n' | '\r' | '\t') {
        out.extend(c.escape_debug());
    } else {
        out.extend(c.escape_unicode());
    }
}

/// A number as an error message shows it: `{}` where that is short, else
/// in scientific notation (`1e300` displays as 301 digits).
#[must_use]
pub fn number(v: f64) -> String {
    let plain = v.to_string();
    if plain.len() <= 24 { plain } else { format!("{v:e}") }
}

/// A library's message that quotes input between backticks (serde's
/// "unknown field `…`, expected one of `a`, `b`") or double quotes (serde's
/// "invalid type: string \"…\"", escaped as `{:?}` writes it): each quoted
/// part goes through [`excerpt`], the rest is only escaped, so the list of
/// what was expected survives a 5,000-character key or value.
#[must_use]
pub fn excerpt_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = if rest[open..].starts_with('`') { '`' } else { '"' };
        out.push_str(&escaped(&rest[..open]));
        let inner = &rest[open + 1..];
        let end = closing_quote(inner, quote).unwrap_or(inner.len());
        out.push(quote);
        out.push_str(&excerpt(&inner[..end]));
        if end < inner.len() {
            out.push(quote);
            rest = &inner[end + 1..];
        } else {
            rest = "";
        }
    }
    out.push_str(&escaped(rest));
    out
}

/// Where `quote` closes a quoted part that starts `text`: a double-quoted
/// part is `{:?}`-escaped, so `\"` inside it does not close it.
fn closing_quote(text: &str, quote: char) -> Option<usize> {
    let mut backslash = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if backslash => backslash = false,
            '\\' if quote == '"' => backslash = true,
            c if c == quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// `text` with its invisible characters escaped, not cut.
fn escaped(text: &str) -> String {
    text.chars().fold(String::with_capacity(text.len()), |mut out, c| {
        push_visible(&mut out, c);
        out
    })
}

/// Bidirectional overrides and isolates, zero-width and other format
/// characters: shown as nothing, yet they reorder or hide what follows.
#[must_use]
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' // zero width, LRM, RLM
        | '\u{202A}'..='\u{202E}' // embeddings and overrides
        | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, isolates
        | '\u{FEFF}' // zero-width no-break space
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let cut = excerpt(&"é".repeat(5000));
        assert_eq!(cut.chars().count(), MAX_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(&"a".repeat(MAX_CHARS)), "a".repeat(MAX_CHARS));
    }

    #[test]
    fn a_message_keeps_its_words_and_cuts_what_it_quotes() {
        let long = "k".repeat(5000);
        let shown = excerpt_quoted(&format!("unknown field `{long}`, expected `a` or `b\u{1b}`\n"));
        assert!(shown.len() < 200, "{shown}");
        assert!(shown.ends_with("…`, expected `a` or `b\\u{1b}`\\n"), "{shown}");
        let value = format!("{:?}", format!("\"{long}"));
        let shown = excerpt_quoted(&format!("invalid type: string {value}, expected f64"));
        assert!(shown.len() < 200 && shown.starts_with("invalid type: string \"\\\"kkk"), "{shown}");
        assert!(shown.ends_with("…\", expected f64"), "{shown}");
    }

    #[test]
    fn numbers_stay_short() {
        assert_eq!(number(125.5), "125.5");
        assert_eq!(number(-1.0), "-1");
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(-1.5e-300), "-1.5e-300");
    }

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        let shown = excerpt("a\u{1b}[2J\u{7}\n\u{202e}b \"q\"");
        assert_eq!(shown, "a\\u{1b}[2J\\u{7}\\n\\u{202e}b \"q\"");
        assert!(!shown.chars().any(|c| c.is_control() || is_invisible_format(c)));
    }
}
