//! The one line editor behind every prompt: the command palette, the filter and class
//! filter lines, the silence form, the runbook form and its typed confirmation, and the
//! confirmation dialog. Keys the keymap did not claim arrive here as text, so every prompt
//! edits the same way: ctrl-w drops a word, ctrl-u clears, left/right/home/end (and ctrl-a,
//! ctrl-e) move the cursor, and the text never grows past its limit.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Longest line a prompt keeps unless it says otherwise.
pub const DEFAULT_LIMIT: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineEditor {
    text: String,
    /// In characters from the start, `0..=len`.
    cursor: usize,
    /// In characters.
    limit: usize,
}

impl Default for LineEditor {
    fn default() -> Self {
        LineEditor::new(DEFAULT_LIMIT)
    }
}

impl LineEditor {
    pub fn new(limit: usize) -> Self {
        LineEditor {
            text: String::new(),
            cursor: 0,
            limit,
        }
    }

    /// Prefilled text (cut to the limit), cursor at the end.
    pub fn with_text(text: &str, limit: usize) -> Self {
        let mut editor = LineEditor::new(limit);
        editor.set(text);
        editor
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replaces the text (cut to the limit) and puts the cursor at its end.
    pub fn set(&mut self, text: &str) {
        self.text = text.chars().take(self.limit).collect();
        self.cursor = self.len();
    }

    pub fn clear(&mut self) {
        self.set("");
    }

    /// The text before and after the cursor, for drawing the cursor in place.
    pub fn split(&self) -> (&str, &str) {
        self.text.split_at(self.byte(self.cursor))
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Edits with `key`; returns whether the text changed (a cursor move does not).
    pub fn key(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                let changed = self.cursor > 0;
                let at = self.byte(self.cursor);
                self.text.replace_range(..at, "");
                self.cursor = 0;
                changed
            }
            KeyCode::Char('w') if ctrl => self.drop_word(),
            KeyCode::Char('a') if ctrl => {
                self.cursor = 0;
                false
            }
            KeyCode::Char('e') if ctrl => {
                self.cursor = self.len();
                false
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() && self.len() < self.limit => {
                let at = self.byte(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
                true
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
                true
            }
            KeyCode::Delete if self.cursor < self.len() => {
                let at = self.byte(self.cursor);
                self.text.remove(at);
                true
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.len());
                false
            }
            KeyCode::Home => {
                self.cursor = 0;
                false
            }
            KeyCode::End => {
                self.cursor = self.len();
                false
            }
            _ => false,
        }
    }

    /// ctrl-w: the word before the cursor and the blanks after it. Commas end a word too,
    /// so a matcher list loses one matcher at a time.
    fn drop_word(&mut self) -> bool {
        let end = self.byte(self.cursor);
        let before = &self.text[..end];
        let trimmed = before.trim_end_matches([' ', ',']).len();
        let start = before[..trimmed].rfind([' ', ',']).map_or(0, |i| i + 1);
        if start == end {
            return false;
        }
        let removed = self.text[start..end].chars().count();
        self.text.replace_range(start..end, "");
        self.cursor -= removed;
        true
    }
}

impl std::fmt::Display for LineEditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<str> for LineEditor {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for LineEditor {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(editor: &mut LineEditor, code: KeyCode) -> bool {
        editor.key(&KeyEvent::from(code))
    }

    fn ctrl(editor: &mut LineEditor, c: char) -> bool {
        editor.key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn typed(text: &str, limit: usize) -> LineEditor {
        let mut editor = LineEditor::new(limit);
        for c in text.chars() {
            press(&mut editor, KeyCode::Char(c));
        }
        editor
    }

    #[test]
    fn typing_stops_at_the_limit() {
        let editor = typed("abcdef", 4);
        assert_eq!(editor, "abcd");
        assert_eq!(LineEditor::with_text("abcdef", 3), "abc");
    }

    #[test]
    fn ctrl_w_drops_the_word_before_the_cursor() {
        let mut editor = typed("kill pid 4121  ", 200);
        assert!(ctrl(&mut editor, 'w'));
        assert_eq!(editor, "kill pid ");
        assert!(ctrl(&mut editor, 'w'));
        assert_eq!(editor, "kill ");
        let mut matchers = typed("a=\"1\", b=\"2\"", 200);
        ctrl(&mut matchers, 'w');
        assert_eq!(matchers, "a=\"1\", ");
        let mut empty = LineEditor::default();
        assert!(!ctrl(&mut empty, 'w'));
    }

    #[test]
    fn ctrl_u_clears_what_is_before_the_cursor() {
        let mut editor = typed("note hello", 200);
        assert!(ctrl(&mut editor, 'u'));
        assert!(editor.is_empty());
        let mut editor = typed("note hello", 200);
        for _ in 0..5 {
            press(&mut editor, KeyCode::Left);
        }
        ctrl(&mut editor, 'u');
        assert_eq!(editor, "hello");
        assert_eq!(editor.split(), ("", "hello"));
    }

    #[test]
    fn the_cursor_moves_and_edits_in_place_across_wide_characters() {
        let mut editor = typed("añ漢z", 200);
        press(&mut editor, KeyCode::Left);
        press(&mut editor, KeyCode::Left);
        assert_eq!(editor.split(), ("añ", "漢z"));
        press(&mut editor, KeyCode::Char('!'));
        assert_eq!(editor, "añ!漢z");
        press(&mut editor, KeyCode::Backspace);
        press(&mut editor, KeyCode::Delete);
        assert_eq!(editor, "añz");
        press(&mut editor, KeyCode::Home);
        assert!(
            !press(&mut editor, KeyCode::Backspace),
            "nothing before the start"
        );
        press(&mut editor, KeyCode::End);
        assert!(
            !press(&mut editor, KeyCode::Delete),
            "nothing after the end"
        );
        press(&mut editor, KeyCode::Right);
        assert_eq!(editor.split(), ("añz", ""));
    }

    #[test]
    fn control_characters_and_unclaimed_keys_are_not_text() {
        let mut editor = LineEditor::default();
        assert!(!press(&mut editor, KeyCode::Char('\u{1b}')));
        assert!(!press(&mut editor, KeyCode::Enter));
        assert!(!press(&mut editor, KeyCode::F(1)));
        assert!(!ctrl(&mut editor, 'x'));
        assert!(editor.is_empty());
    }
}
