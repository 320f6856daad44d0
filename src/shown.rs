//! The one way text that someone else wrote (a transcript, a share file, a
//! script) reaches a terminal or a report. Whoever holds the ceremony key
//! can put any string in a transcript; printed raw, an escape sequence can
//! move the cursor up and overwrite `TAMPERED` with `VALID`, a newline can
//! print a verdict line of its own, and a bidi override can reverse what a
//! witness reads aloud. Such characters are shown as `\u{..}` instead:
//! visible, so the auditor sees that something is off, and inert.

use std::borrow::Cow;

/// Characters that change how the rest of a line is drawn without being
/// drawn themselves: controls (C0, DEL, C1), bidi embeddings, overrides and
/// isolates, zero-width characters, and the Unicode line separators.
fn drives_the_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| drives_the_terminal(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if drives_the_terminal(c) && !keep(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value on one line: every terminal-driving character escaped,
/// newlines and tabs included.
pub fn shown(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// A whole text the tool composed: its own newlines kept, everything else
/// that drives a terminal escaped. The last guard at the point of output,
/// behind [`shown`] on each value.
pub fn shown_lines(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_not_copied() {
        assert!(matches!(shown("root-ca-key é ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_newlines_and_bidi_become_visible_and_inert() {
        assert_eq!(
            shown("a\u{1b}[1A\r\nVALID\u{202e}x\u{9b}"),
            "a\\u{1b}[1A\\u{d}\\u{a}VALID\\u{202e}x\\u{9b}"
        );
        assert_eq!(
            shown_lines("one\ntwo\u{1b}]0;t\u{7}"),
            "one\ntwo\\u{1b}]0;t\\u{7}"
        );
    }
}
