//! Key/value panels whose values wrap at word boundaries instead of being cut mid-word.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use unicode_width::UnicodeWidthStr;

use crate::tui::theme::{Theme, Token};

/// Breaks `text` into lines no wider than `width` display cells. Words (runs without
/// whitespace) are never split, unless a word alone is wider than `width`; runs of
/// whitespace collapse to one space. A zero width yields no lines.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if width == 0 {
        return lines;
    }
    // Widths are measured on the assembled text, as the terminal draws it, so sequences
    // that combine (accents, flags) are counted once.
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() {
            let joined = format!("{line} {word}");
            if joined.width() <= width {
                line = joined;
                continue;
            }
            lines.push(std::mem::take(&mut line));
        }
        if word.width() <= width {
            line.push_str(word);
            continue;
        }
        // Too long for any line: cut it at character boundaries, never mid-character.
        for c in word.chars() {
            let mut longer = line.clone();
            longer.push(c);
            if longer.width() <= width {
                line = longer;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A character wider than the whole line cannot be shown at all.
            if c.to_string().width() <= width {
                line.push(c);
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Where a value sits under its key when it cannot sit beside it.
const STACKED_INDENT: &str = "  ";

/// The lines of a key/value panel `width` cells wide: keys right-aligned in a column of
/// their own, values wrapped beside them with continuation lines under the value.
pub fn lines<'a>(pairs: &[(String, String)], width: u16, theme: &Theme) -> Vec<Line<'a>> {
    let width = usize::from(width);
    let sane: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            (
                crate::sanitize::sanitize(k).into_owned(),
                crate::sanitize::sanitize(v).into_owned(),
            )
        })
        .collect();
    // Keys get up to two fifths of the width; a longer key sits on a line of its own
    // above its value rather than being cut.
    let key_width = sane
        .iter()
        .map(|(k, _)| k.width())
        .filter(|w| *w <= width * 2 / 5)
        .max()
        .unwrap_or(0);
    let value_width = width.saturating_sub(key_width + 1).max(1);
    let indent = " ".repeat(key_width + 1);
    let mut out = Vec::new();
    for (k, v) in &sane {
        let longest_word = v.split_whitespace().map(|w| w.width()).max().unwrap_or(0);
        if k.width() <= key_width && longest_word <= value_width {
            let mut value = wrap(v, value_width).into_iter();
            out.push(Line::from(vec![
                Span::styled(
                    format!("{k:>key_width$} ", key_width = key_width),
                    theme.style(Token::Muted),
                ),
                Span::styled(value.next().unwrap_or_default(), theme.style(Token::Text)),
            ]));
            for rest in value {
                out.push(Line::from(vec![
                    Span::raw(indent.clone()),
                    Span::styled(rest, theme.style(Token::Text)),
                ]));
            }
            continue;
        }
        // A long key, or a word too long for the value column: the key on a line of its
        // own and the value below it, across the whole width.
        for part in wrap(k, width.max(1)) {
            out.push(Line::from(Span::styled(part, theme.style(Token::Muted))));
        }
        let stacked = width.saturating_sub(STACKED_INDENT.len()).max(1);
        for part in wrap(v, stacked) {
            out.push(Line::from(vec![
                Span::raw(STACKED_INDENT),
                Span::styled(part, theme.style(Token::Text)),
            ]));
        }
    }
    out
}

/// A bordered key/value panel.
pub fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    pairs: &[(String, String)],
    theme: &Theme,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Border))
        .title(Span::styled(
            format!(" {} ", crate::sanitize::sanitize(title)),
            theme.style(Token::Title),
        ));
    let inner = block.inner(area);
    frame.render_widget(
        Paragraph::new(lines(pairs, inner.width, theme)).block(block),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(
            wrap("122640041 rollbacks since the reset", 12),
            vec!["122640041", "rollbacks", "since the", "reset"]
        );
        assert_eq!(wrap("a b c", 5), vec!["a b c"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(
            wrap("日本語テキスト", 4),
            vec!["日本", "語テ", "キス", "ト"]
        );
        assert!(wrap("anything", 0).is_empty());
        assert!(wrap("   ", 10).is_empty());
    }

    /// xorshift64*: a fixed seed makes every run generate the same cases.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
        fn text(&mut self) -> String {
            const PIECES: &[&str] = &[
                "a",
                "bb",
                "rollback",
                " ",
                "  ",
                "\t",
                "\n",
                "日本",
                "語",
                "é",
                "👍",
                "🇫🇷",
                "\u{301}",
                "\u{200b}",
                "x",
                "0123456789abcdef",
                "–",
                "\u{1b}[31m",
                "ｗｉｄｅ",
            ];
            let n = self.below(24);
            (0..n)
                .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
                .collect()
        }
    }

    #[test]
    fn no_line_exceeds_the_width_and_no_word_is_split_that_fits() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..20_000 {
            let text = rng.text();
            let width = rng.below(30) as usize;
            let lines = wrap(&text, width);
            for line in &lines {
                assert!(
                    line.width() <= width,
                    "case {case}: {line:?} wider than {width} in {text:?}"
                );
                assert!(!line.is_empty(), "case {case}: empty line for {text:?}");
            }
            let words: Vec<&str> = text.split_whitespace().collect();
            // Every word that fits appears whole on one line.
            for word in words.iter().filter(|w| w.width() <= width && width > 0) {
                assert!(
                    lines
                        .iter()
                        .any(|l| l.split(' ').any(|piece| piece == *word)),
                    "case {case}: {word:?} split in {lines:?} (width {width})"
                );
            }
            // Nothing is lost but whitespace, and characters wider than the line.
            let kept: String = lines.concat().chars().filter(|c| *c != ' ').collect();
            let expected: String = text
                .chars()
                .filter(|c| !c.is_whitespace())
                .filter(|c| c.to_string().width() <= width)
                .collect();
            if width > 0 {
                assert_eq!(kept, expected, "case {case}: {text:?} at {width}");
            }
        }
    }
}
