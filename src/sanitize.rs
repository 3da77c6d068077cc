//! Text that came from a backend is made safe for a terminal here, and only here.
//!
//! Anything a backend returns (a Redis class name, a query, an error message, a certificate
//! issuer) may carry escape sequences that would move the cursor, retitle the window, write
//! to the clipboard (OSC 52) or reorder text with bidi overrides. Every string is passed
//! through [`sanitize`] before it is drawn.

use std::borrow::Cow;

/// Returns `text` with every control character, escape sequence and bidi control removed.
///
/// Escape sequences are dropped whole (ESC + its parameters + final byte), not just the
/// ESC byte, so `"\x1b[31mred"` becomes `"red"` rather than `"[31mred"`. Tabs and newlines
/// become a single space, because a table cell is one line.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_plain) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // C1 CSI / OSC / DCS / APC / PM / SOS introduce sequences just like ESC [ etc.
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{9f}' | '\u{9e}' | '\u{98}' => skip_string(&mut chars),
            '\t' | '\n' | '\r' if !out.ends_with(' ') => out.push(' '),
            '\t' | '\n' | '\r' => {}
            c if is_plain(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

fn is_plain(c: char) -> bool {
    !(c.is_control() || is_bidi_control(c) || is_invisible_format(c))
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Zero-width characters that make two different strings look identical on screen.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}'
    )
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_escape(chars: &mut Chars<'_>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        Some(']') | Some('P') | Some('_') | Some('^') | Some('X') => skip_string(chars),
        // ESC followed by intermediates (0x20-0x2f) then a final byte, e.g. ESC ( B.
        Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
            while let Some(&n) = chars.peek() {
                chars.next();
                if !('\u{20}'..='\u{2f}').contains(&n) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// CSI: parameters and intermediates up to a final byte in 0x40..=0x7e.
fn skip_csi(chars: &mut Chars<'_>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            break;
        }
    }
}

/// OSC, DCS, APC, PM, SOS: everything up to BEL, ST (ESC \) or the C1 ST.
fn skip_string(chars: &mut Chars<'_>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

/// Like [`sanitize`], then cut to at most `max_chars` characters with an ellipsis.
pub fn sanitize_truncated(text: &str, max_chars: usize) -> String {
    let clean = sanitize(text);
    if clean.chars().count() <= max_chars {
        return clean.into_owned();
    }
    let mut out: String = clean.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_inert(s: &str) {
        let out = sanitize(s);
        assert!(
            out.chars().all(is_plain),
            "control left in {out:?} from {s:?}"
        );
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(sanitize("pull queue ✓ 日本"), Cow::Borrowed(_)));
    }

    #[test]
    fn csi_sequences_are_removed_whole() {
        assert_eq!(sanitize("\x1b[31mred\x1b[0m"), "red");
        assert_eq!(sanitize("a\x1b[2J\x1b[Hb"), "ab");
        assert_eq!(sanitize("x\x1b[?1049hy"), "xy");
    }

    #[test]
    fn osc_sequences_are_removed_with_either_terminator() {
        assert_eq!(sanitize("\x1b]0;pwned\x07title"), "title");
        assert_eq!(sanitize("\x1b]52;c;ZWNobyBoaQ==\x1b\\clip"), "clip");
        assert_eq!(
            sanitize("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\"),
            "link"
        );
    }

    #[test]
    fn c1_controls_are_removed() {
        assert_eq!(sanitize("a\u{9b}31mb"), "ab");
        assert_eq!(sanitize("a\u{9d}0;t\u{9c}b"), "ab");
        assert_eq!(sanitize("a\u{85}b"), "ab");
        assert_eq!(sanitize("a\u{90}dcs\u{9c}b"), "ab");
    }

    #[test]
    fn bidi_overrides_and_zero_width_are_removed() {
        assert_eq!(sanitize("evil\u{202e}gnp.exe"), "evilgnp.exe");
        assert_eq!(sanitize("a\u{2066}b\u{2069}c"), "abc");
        assert_eq!(sanitize("ad\u{200b}min"), "admin");
    }

    #[test]
    fn newlines_and_tabs_fold_to_one_space() {
        assert_eq!(sanitize("a\r\n\tb"), "a b");
    }

    #[test]
    fn other_c0_controls_are_dropped() {
        assert_eq!(sanitize("a\x07b\x08c\x00d\x7f"), "abcd");
    }

    #[test]
    fn unterminated_sequences_swallow_the_rest_not_the_terminal() {
        assert_eq!(sanitize("ok\x1b]0;never ends"), "ok");
        assert_eq!(sanitize("ok\x1b[12;"), "ok");
        assert_eq!(sanitize("ok\x1b"), "ok");
    }

    #[test]
    fn hostile_corpus_never_leaves_a_control() {
        let corpus = [
            "\x1bP1;2|payload\x1b\\",
            "\x1b_apc\x1b\\",
            "\x1b^pm\x1b\\",
            "\x1bXsos\x1b\\",
            "\x1b(B\x1b)0",
            "\x1b#8",
            "\x1bc",
            "\u{9b}\u{9b}\u{9b}",
            "\x1b\x1b\x1b[",
            "\u{feff}\u{2060}\u{00ad}",
        ];
        for s in corpus {
            assert_inert(s);
        }
        // every byte value as a char, alone and after ESC
        for b in 0u32..=0x10ff {
            if let Some(c) = char::from_u32(b) {
                assert_inert(&format!("{c}x"));
                assert_inert(&format!("\x1b{c}x"));
            }
        }
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(sanitize_truncated("日本語のテキスト", 4), "日本語…");
        assert_eq!(sanitize_truncated("\x1b[1mabc", 5), "abc");
    }
}
