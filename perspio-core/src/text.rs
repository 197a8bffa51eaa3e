//! Text chosen by someone else (a server, a store, a configuration file) on its way into a
//! message: neutralised and bounded, in one place.
//!
//! A server can put ESC, BEL or C1 control bytes in an error message or an Entra
//! `error_description`; printed raw, they set the window title, clear the screen or, on some
//! terminals, write the clipboard. A server can also send megabytes of it. Every remote string
//! that goes into an error's `Display`, a log line or the CLI's stderr goes through
//! [`remote`] (the stack's one bound for a remote string, [`MAX_REMOTE_TEXT`]); a whole
//! message line (an error and its causes) goes through [`message`] ([`MAX_MESSAGE`]), which
//! neutralises whatever an error of another library may have quoted.
//!
//! JSON data output is not touched: it is escaped by the JSON encoder.
//!
//! ```
//! use perspio_core::text::{remote, MAX_REMOTE_TEXT};
//!
//! assert_eq!(remote("denied\u{1b}]0;pwned\u{7}"), "denied\\e]0;pwned\\a");
//! assert_eq!(remote("two\nlines"), "two lines");
//! let long = "x".repeat(10 * MAX_REMOTE_TEXT);
//! assert!(remote(&long).chars().count() <= MAX_REMOTE_TEXT + 30);
//! ```

use std::fmt::Write as _;

/// The longest remote text (in characters) that goes into one message. Longer text is cut,
/// and the cut says how much was left out.
pub const MAX_REMOTE_TEXT: usize = 300;

/// The longest one-line message (an error with all its causes, as the CLI prints it or
/// `perspio_api::cause_chain` renders it). Each remote part inside is already at most
/// [`MAX_REMOTE_TEXT`]; this bounds the line as a whole.
pub const MAX_MESSAGE: usize = 2000;

/// [`sanitize`] with the stack's bound, [`MAX_REMOTE_TEXT`].
pub fn remote(text: &str) -> String {
    sanitize(text, MAX_REMOTE_TEXT)
}

/// [`sanitize`] for a whole message line, bounded by [`MAX_MESSAGE`].
pub fn message(text: &str) -> String {
    sanitize(text, MAX_MESSAGE)
}

/// `text` made safe for a terminal and a single-line message, and cut to `max_chars`:
///
/// - line breaks and tabs become one space each (messages are one line);
/// - every other control character (C0, DEL, C1) and the Unicode bidirectional overrides are
///   shown as escapes (`\e` for ESC, `\a` for BEL, `\u{9b}` for the others), never emitted;
/// - leading and trailing whitespace is trimmed;
/// - past `max_chars` shown characters (an escape counts at its shown width) the text is cut
///   and ends with `… (N more characters)`.
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let text = text.trim();
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)) + 8);
    let mut shown = 0usize;
    let mut chars = text.chars();
    for c in chars.by_ref() {
        if shown >= max_chars {
            let rest = 1 + chars.count();
            let _ = write!(out, "… ({rest} more characters)");
            return out;
        }
        let before = out.len();
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '\u{1b}' => out.push_str("\\e"),
            '\u{7}' => out.push_str("\\a"),
            c if c.is_control() || is_bidi_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
        // Escapes count at their shown width, so the bound holds for the output.
        shown += out[before..].chars().count();
    }
    out
}

/// The Unicode bidirectional formatting characters, which can make a terminal show text in
/// another order than it was sent ("Trojan Source"). [`sanitize`] shows them as escapes; an
/// encoder of JSON can write them as `\uXXXX` (the same JSON, shown in order).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped_and_never_emitted() {
        for code in (0u32..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(code).unwrap_or(' ');
            let shown = sanitize(&format!("a{c}b"), 100);
            assert!(
                !shown.chars().any(|x| x.is_control()),
                "U+{code:04X} reached the output: {shown:?}"
            );
        }
        assert_eq!(sanitize("\u{9b}31m", 100), "\\u{9b}31m");
        assert_eq!(sanitize("x\u{202e}y", 100), "x\\u{202e}y");
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(sanitize("a\r\nb\tc", 100), "a  b c");
    }

    #[test]
    fn long_text_is_cut_at_the_bound_and_says_how_much_was_left_out() {
        let shown = sanitize(&"é".repeat(1000), 10);
        assert_eq!(shown, format!("{}… (990 more characters)", "é".repeat(10)));
        assert_eq!(sanitize("short", 10), "short");
        assert_eq!(sanitize(&"y".repeat(10), 10), "y".repeat(10));
    }
}
