//! Keymaps: which key does what, per mode.
//!
//! A keymap file has one table per [`Mode`] with entries `"key" = "action_name"`. Two complete
//! keymaps ship in the binary (`default`, `vim`); the user's `keymap.toml` is laid over one of
//! them and changes only the keys it names (`"<disabled>"` unbinds a key in that mode).
//!
//! Key strings are read with crokey, with three rules on top so that what is written matches
//! what terminals send:
//! - a bare uppercase letter means shift + that letter (`"G"` is `"shift-g"`); next to `ctrl-`
//!   or `alt-` the case of the letter is ignored (`"ctrl-C"` is `"ctrl-c"`), because most
//!   terminals cannot report shift together with ctrl;
//! - `"shift-tab"` and `"backtab"` are the same key;
//! - `shift-` in front of a character without case (`"shift-/"`) is refused: terminals send the
//!   character the key produces (`"?"`), so the binding could never fire.

use std::collections::HashMap;
use std::path::Path;

use crokey::KeyCombination;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::config::{FileError, closest, line_col, quote};
use crate::tui::command::{Command, Mode};

/// The value that unbinds a key.
pub const DISABLED: &str = "<disabled>";

const BUILTINS: &[(&str, &str)] = &[
    ("default", include_str!("../../keymaps/default.toml")),
    ("vim", include_str!("../../keymaps/vim.toml")),
];

/// Key names accepted besides single characters; offered as "did you mean" suggestions.
const KEY_NAMES: &str = "esc enter tab backtab backspace delete insert up down left right home end \
                         pgup pgdn pageup pagedown space hyphen f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 f11 f12";

const SYNTAX_HINT: &str = "keys other than plain letters, digits, `-` and `_` need quotes, and actions are quoted \
                           strings: \"?\" = \"help\"";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    key: KeyCombination,
    /// `None` is an explicit `<disabled>`: the key does nothing in this mode, not even its
    /// `global` meaning.
    action: Option<Command>,
}

/// Bindings per mode, in file order (so the first key written for an action is the one the
/// footer shows).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keymap {
    tables: [Vec<Binding>; 6],
}

/// One entry read from a file, before it is laid over a keymap.
struct Entry {
    mode: Mode,
    binding: Binding,
}

impl Keymap {
    /// Names accepted by [`Keymap::builtin`].
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTINS.iter().map(|(name, _)| *name).collect()
    }

    /// One of the keymaps shipped in the binary. An unknown name is reported with origin
    /// `config` and key `ui.keymap`; the caller may point it at wherever the name came from.
    pub fn builtin(name: &str) -> Result<Keymap, FileError> {
        let Some((_, text)) = BUILTINS.iter().find(|(n, _)| *n == name) else {
            let names = Keymap::builtin_names();
            let hint = match closest(name, names.iter().copied()) {
                Some(near) => format!(
                    "did you mean `{near}`? the built-in keymaps are {}",
                    names.join(", ")
                ),
                None => format!("the built-in keymaps are {}", names.join(", ")),
            };
            return Err(FileError::new(
                "config",
                format!("no built-in keymap called `{}`", quote(name)),
            )
            .key("ui.keymap")
            .hint(hint));
        };
        Keymap::parse_str(text, &format!("built-in keymap `{name}`"))
    }

    /// A built-in base keymap with the user's file laid over it. A missing user file is not an
    /// error: most people never write one.
    pub fn load(base: &str, user_file: Option<&Path>) -> Result<Keymap, FileError> {
        let mut keymap = Keymap::builtin(base)?;
        if let Some(path) = user_file {
            let origin = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => keymap.apply_overrides(&text, &origin)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(
                        FileError::new(origin, format!("cannot read the keymap: {e}")).hint(
                            "check the file's permissions, or remove it to use the built-in keymap",
                        ),
                    );
                }
            }
        }
        Ok(keymap)
    }

    /// A complete keymap from one file's text. `origin` names the file in errors.
    pub fn parse_str(text: &str, origin: &str) -> Result<Keymap, FileError> {
        let mut keymap = Keymap::default();
        keymap.apply_overrides(text, origin)?;
        Ok(keymap)
    }

    /// Lays a file over this keymap: keys it names are rebound or (with `"<disabled>"`)
    /// unbound in that mode; everything else stays as it was. On error nothing is changed.
    pub fn apply_overrides(&mut self, text: &str, origin: &str) -> Result<(), FileError> {
        for Entry { mode, binding } in parse_entries(text, origin)? {
            let table = &mut self.tables[mode_index(mode)];
            match table.iter_mut().find(|b| b.key == binding.key) {
                Some(existing) => existing.action = binding.action,
                None => table.push(binding),
            }
        }
        Ok(())
    }

    /// What `event` does in `mode`: the mode's own table first, then `global`, except in
    /// [`Mode::Prompt`], where unbound keys are text to type.
    pub fn command(&self, mode: Mode, event: &KeyEvent) -> Option<Command> {
        let key = key_of_event(event)?;
        self.lookup(mode, &key)
    }

    fn lookup(&self, mode: Mode, key: &KeyCombination) -> Option<Command> {
        if let Some(binding) = self.tables[mode_index(mode)].iter().find(|b| b.key == *key) {
            return binding.action;
        }
        if falls_back(mode) {
            return self.tables[mode_index(Mode::Global)]
                .iter()
                .find(|b| b.key == *key)
                .and_then(|b| b.action);
        }
        None
    }

    /// The bindings written in `mode`'s own table (without the `global` fallback), grouped by
    /// action in [`Command::ALL`] order and, within an action, in file order.
    pub fn bindings(&self, mode: Mode) -> Vec<(String, Command)> {
        sorted(
            self.tables[mode_index(mode)]
                .iter()
                .filter_map(|b| Some((b.key, b.action?)))
                .collect(),
        )
    }

    /// Every binding that works in `mode`: its own table plus the `global` keys it does not
    /// shadow. Same order as [`Keymap::bindings`].
    pub fn effective_bindings(&self, mode: Mode) -> Vec<(String, Command)> {
        sorted(self.effective(mode))
    }

    /// The first key that triggers `action` in `mode` (including the `global` fallback), for
    /// footer hints such as "? help".
    pub fn key_for(&self, mode: Mode, action: Command) -> Option<String> {
        self.effective(mode)
            .into_iter()
            .find(|(_, a)| *a == action)
            .map(|(key, _)| key_display(&key))
    }

    fn effective(&self, mode: Mode) -> Vec<(KeyCombination, Command)> {
        let own = &self.tables[mode_index(mode)];
        let mut out: Vec<_> = own
            .iter()
            .filter_map(|b| Some((b.key, b.action?)))
            .collect();
        if falls_back(mode) {
            let global = &self.tables[mode_index(Mode::Global)];
            out.extend(
                global
                    .iter()
                    .filter(|g| !own.iter().any(|b| b.key == g.key))
                    .filter_map(|g| Some((g.key, g.action?))),
            );
        }
        out
    }
}

/// The prompt's unbound keys are text; the handoff prompt answers only its own keys.
fn falls_back(mode: Mode) -> bool {
    !matches!(mode, Mode::Global | Mode::Prompt | Mode::Handoff)
}

fn mode_index(mode: Mode) -> usize {
    match mode {
        Mode::Global => 0,
        Mode::List => 1,
        Mode::Help => 2,
        Mode::Prompt => 3,
        Mode::Handoff => 4,
        Mode::Logs => 5,
    }
}

fn sorted(mut bindings: Vec<(KeyCombination, Command)>) -> Vec<(String, Command)> {
    let rank = |a: Command| {
        Command::ALL
            .iter()
            .position(|x| *x == a)
            .unwrap_or(usize::MAX)
    };
    bindings.sort_by_key(|(_, action)| rank(*action));
    bindings
        .into_iter()
        .map(|(key, action)| (key_display(&key), action))
        .collect()
}

/// Why a key string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStringError {
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for KeyStringError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.hint)
    }
}

impl std::error::Error for KeyStringError {}

/// Reads a key string such as `"ctrl-c"`, `"G"`, `"shift-tab"` or `"pgdn"` into the form that
/// [`key_of_event`] produces for the same key press.
pub fn parse_key(raw: &str) -> Result<KeyCombination, KeyStringError> {
    let err = |message: String, hint: &str| KeyStringError {
        message,
        hint: hint.to_string(),
    };
    let mut modifiers = KeyModifiers::NONE;
    let mut name = raw;
    while let Some((prefix, rest)) = name.split_once('-') {
        let modifier = match prefix.to_ascii_lowercase().as_str() {
            "ctrl" => KeyModifiers::CONTROL,
            "alt" => KeyModifiers::ALT,
            "shift" => KeyModifiers::SHIFT,
            "cmd" => KeyModifiers::SUPER,
            _ => break,
        };
        modifiers |= modifier;
        name = rest;
    }
    if name.is_empty() {
        return Err(err(
            format!("`{}` has no key after the modifiers", quote(raw)),
            "write the key last, e.g. `ctrl-c`",
        ));
    }
    let mut chars = name.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) => {
            if c.is_whitespace() || c.is_control() {
                return Err(err(
                    format!("`{}` is not a printable key", quote(raw)),
                    "write `space`, `tab` or `enter` by name",
                ));
            }
            if c.is_uppercase()
                && !modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER)
            {
                modifiers |= KeyModifiers::SHIFT;
            }
            KeyCode::Char(single_lowercase(c))
        }
        _ => {
            let lower = name.to_ascii_lowercase();
            let canonical = match lower.as_str() {
                "pgup" => "pageup",
                "pgdn" => "pagedown",
                "escape" => "esc",
                "return" => "enter",
                other => other,
            };
            let parsed = crokey::parse(canonical)
                .ok()
                .filter(|k| k.is_ansi_compatible());
            let Some(parsed) = parsed else {
                let hint = match closest(&lower, KEY_NAMES.split_whitespace()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "use one character, or a key name such as esc, enter, tab, up, pgdn, home, space or f1; \
                             modifiers are ctrl-, alt-, shift- and cmd-"
                        .to_string(),
                };
                return Err(KeyStringError {
                    message: format!("`{}` is not a key", quote(raw)),
                    hint,
                });
            };
            modifiers |= parsed.modifiers;
            *parsed.codes.first()
        }
    };
    if let KeyCode::Char(c) = code
        && !has_case(c)
        && modifiers.contains(KeyModifiers::SHIFT)
    {
        return Err(err(
            format!(
                "`{}`: terminals do not report shift together with `{c}`",
                quote(raw)
            ),
            "bind the character the shifted key types instead, e.g. `?` rather than `shift-/`",
        ));
    }
    Ok(normalize(code, modifiers))
}

/// The key of a terminal event in the same form as [`parse_key`]; `None` for key releases,
/// which only terminals with the kitty protocol report.
pub fn key_of_event(event: &KeyEvent) -> Option<KeyCombination> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    let mut modifiers = event.modifiers;
    if let KeyCode::Char(c) = event.code
        && !has_case(c)
    {
        // Some terminals (kitty protocol) add SHIFT to `?` or `:`; the character already says it.
        modifiers.remove(KeyModifiers::SHIFT);
    }
    Some(normalize(event.code, modifiers))
}

fn has_case(c: char) -> bool {
    c.is_uppercase() || c.is_lowercase()
}

fn single_lowercase(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn single_uppercase(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// One spelling per key press: shifted letters are uppercase with SHIFT, and shift-tab is
/// BackTab with SHIFT (what crossterm reports).
fn normalize(code: KeyCode, mut modifiers: KeyModifiers) -> KeyCombination {
    let code = match code {
        KeyCode::Char('\r' | '\n') => KeyCode::Enter,
        KeyCode::Char(c) if c.is_uppercase() => {
            modifiers |= KeyModifiers::SHIFT;
            KeyCode::Char(c)
        }
        KeyCode::Char(c) if modifiers.contains(KeyModifiers::SHIFT) => {
            KeyCode::Char(single_uppercase(c))
        }
        KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
        KeyCode::BackTab => {
            modifiers |= KeyModifiers::SHIFT;
            KeyCode::BackTab
        }
        other => other,
    };
    KeyCombination::one_key(code, modifiers)
}

/// How a key is shown in help and footers; [`parse_key`] reads it back to the same key.
pub fn key_display(key: &KeyCombination) -> String {
    let code = *key.codes.first();
    let mut modifiers = key.modifiers;
    let name = match code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) if modifiers == KeyModifiers::SHIFT && c.is_uppercase() => {
            modifiers = KeyModifiers::NONE;
            c.to_string()
        }
        KeyCode::Char(c) => single_lowercase(c).to_string(),
        KeyCode::BackTab => {
            modifiers.remove(KeyModifiers::SHIFT);
            "shift-tab".to_string()
        }
        KeyCode::Esc => "esc".to_string(),
        KeyCode::Enter => "enter".to_string(),
        KeyCode::Tab => "tab".to_string(),
        KeyCode::Backspace => "backspace".to_string(),
        KeyCode::Delete => "delete".to_string(),
        KeyCode::Insert => "insert".to_string(),
        KeyCode::Up => "up".to_string(),
        KeyCode::Down => "down".to_string(),
        KeyCode::Left => "left".to_string(),
        KeyCode::Right => "right".to_string(),
        KeyCode::Home => "home".to_string(),
        KeyCode::End => "end".to_string(),
        KeyCode::PageUp => "pgup".to_string(),
        KeyCode::PageDown => "pgdn".to_string(),
        KeyCode::F(n) => format!("f{n}"),
        other => format!("{other:?}").to_ascii_lowercase(),
    };
    let mut out = String::new();
    for (flag, prefix) in [
        (KeyModifiers::CONTROL, "ctrl-"),
        (KeyModifiers::ALT, "alt-"),
        (KeyModifiers::SUPER, "cmd-"),
        (KeyModifiers::SHIFT, "shift-"),
    ] {
        if modifiers.contains(flag) {
            out.push_str(prefix);
        }
    }
    out.push_str(&name);
    out
}

fn parse_entries(text: &str, origin: &str) -> Result<Vec<Entry>, FileError> {
    let root =
        DeTable::parse(text).map_err(|e| toml_syntax_error(text, origin, &e, SYNTAX_HINT))?;
    let at = |span: std::ops::Range<usize>| Some(line_col(text, span.start));
    let mode_names = || Mode::ALL.iter().map(|m| m.name());
    let mut entries = Vec::new();
    for (table_key, table_value) in in_file_order(root.get_ref()) {
        let table_name = table_key.get_ref().as_ref();
        let Some(mode) = Mode::from_name(table_name) else {
            let err = FileError::new(origin, "")
                .at(at(table_key.span()))
                .key(toml_key(table_name));
            return Err(match table_value.get_ref() {
                DeValue::Table(_) => {
                    let hint = match closest(table_name, mode_names()) {
                        Some(near) => format!("did you mean `[{near}]`?"),
                        None => {
                            "the mode tables are [global], [list], [help], [prompt] and [handoff]"
                                .to_string()
                        }
                    };
                    FileError {
                        message: format!("unknown mode table `[{}]`", quote(table_name)),
                        ..err
                    }
                    .hint(hint)
                }
                _ => FileError {
                    message: "a binding outside any mode table".to_string(),
                    ..err
                }
                .hint("put it under [global], [list], [help], [prompt] or [handoff]"),
            });
        };
        let DeValue::Table(table) = table_value.get_ref() else {
            return Err(FileError::new(
                origin,
                format!("`{}` must be a table of key bindings", quote(table_name)),
            )
            .at(at(table_key.span()))
            .key(table_name)
            .hint(format!(
                "write [{table_name}] on its own line, followed by entries like \"q\" = \"quit\""
            )));
        };
        let mut seen: HashMap<KeyCombination, (String, usize)> = HashMap::new();
        for (key, value) in in_file_order(table) {
            let raw = key.get_ref().as_ref();
            let path = format!("{table_name}.{}", toml_key(raw));
            let key_pos = line_col(text, key.span().start);
            let combo = parse_key(raw).map_err(|e| {
                FileError::new(origin, e.message)
                    .at(Some(key_pos))
                    .key(path.clone())
                    .hint(e.hint)
            })?;
            if let Some((first_raw, first_line)) = seen.get(&combo) {
                let what = key_display(&combo);
                return Err(FileError::new(
                    origin,
                    format!(
                        "`{}` is the same key as `{}` on line {first_line}",
                        quote(raw),
                        quote(first_raw)
                    ),
                )
                .at(Some(key_pos))
                .key(path)
                .hint(format!(
                    "lines {first_line} and {} both bind {what}; keep one of them",
                    key_pos.0
                )));
            }
            seen.insert(combo, (raw.to_string(), key_pos.0));
            let value_err = |message: String| {
                FileError::new(origin, message)
                    .at(at(value.span()))
                    .key(path.clone())
            };
            let Some(name) = value.get_ref().as_str() else {
                return Err(value_err(format!(
                    "expected an action name, found {}",
                    value.get_ref().type_str()
                ))
                .hint(format!(
                    "write the action in quotes, e.g. \"{raw}\" = \"quit\", or \"{DISABLED}\""
                )));
            };
            let action = if name == DISABLED {
                None
            } else {
                let Some(action) = Command::from_name(name) else {
                    let names = || Command::ALL.iter().map(|a| a.name());
                    let hint = match closest(name, names()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "actions are {}, or \"{DISABLED}\"",
                            names().collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return Err(value_err(format!("unknown action `{}`", quote(name))).hint(hint));
                };
                Some(action)
            };
            entries.push(Entry {
                mode,
                binding: Binding { key: combo, action },
            });
        }
    }
    Ok(entries)
}

/// Entries in the order they were written; `DeTable` sorts keys alphabetically.
pub(super) fn in_file_order<'t, 'i>(
    table: &'t DeTable<'i>,
) -> Vec<(
    &'t Spanned<std::borrow::Cow<'i, str>>,
    &'t Spanned<DeValue<'i>>,
)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    entries
}

/// A key as it would be written in TOML: bare when it can be, quoted otherwise.
pub(super) fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

/// A TOML syntax error with its place and, as far as the broken line shows it, the key.
/// Shared by keymaps and themes, which are both read with spans.
pub(super) fn toml_syntax_error(
    text: &str,
    origin: &str,
    error: &toml::de::Error,
    hint: &str,
) -> FileError {
    let offset = error.span().map(|s| s.start);
    let mut err = FileError::new(
        origin,
        format!("TOML syntax error: {}", error.message().trim_end()),
    )
    .at(offset.map(|o| line_col(text, o)))
    .hint(if error.message().contains("duplicate key") {
        "a key may appear only once in a table; remove one of the two"
    } else {
        hint
    });
    err.key = offset.and_then(|o| key_near(text, o));
    err
}

fn key_near(text: &str, offset: usize) -> Option<String> {
    let (line_no, _) = line_col(text, offset);
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(line_no.checked_sub(1)?)?.trim();
    if line.starts_with('[') {
        return None;
    }
    let section = lines[..line_no - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .and_then(|l| l.trim_start_matches('[').split(']').next())
        .map(|s| s.trim().to_string());
    let entry = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches(['"', '\'']))
        .filter(|k| !k.is_empty())
        .map(toml_key);
    match (section, entry) {
        (Some(s), Some(e)) => Some(format!("{s}.{e}")),
        (s, e) => e.or(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn key(raw: &str) -> KeyCombination {
        parse_key(raw).unwrap_or_else(|e| panic!("`{raw}` should parse: {e}"))
    }

    #[test]
    fn uppercase_letter_means_shift_and_differs_from_lowercase() {
        assert_eq!(key("G"), key("shift-g"));
        assert_eq!(key("G"), key("shift-G"));
        assert_ne!(key("G"), key("g"));
        assert_eq!(key("ctrl-C"), key("ctrl-c"));
        assert_ne!(key("ctrl-shift-c"), key("ctrl-c"));
    }

    #[test]
    fn shift_tab_and_backtab_are_one_key() {
        assert_eq!(key("shift-tab"), key("backtab"));
        assert_eq!(key("Shift-Tab"), key("shift-tab"));
        assert_ne!(key("shift-tab"), key("tab"));
    }

    #[test]
    fn events_match_their_written_keys() {
        let cases = [
            ("G", press(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            ("G", press(KeyCode::Char('G'), KeyModifiers::NONE)),
            ("G", press(KeyCode::Char('g'), KeyModifiers::SHIFT)),
            ("shift-tab", press(KeyCode::BackTab, KeyModifiers::SHIFT)),
            ("shift-tab", press(KeyCode::BackTab, KeyModifiers::NONE)),
            ("shift-tab", press(KeyCode::Tab, KeyModifiers::SHIFT)),
            ("?", press(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            ("?", press(KeyCode::Char('?'), KeyModifiers::NONE)),
            ("ctrl-c", press(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            ("enter", press(KeyCode::Char('\r'), KeyModifiers::NONE)),
            ("pgdn", press(KeyCode::PageDown, KeyModifiers::NONE)),
            ("space", press(KeyCode::Char(' '), KeyModifiers::NONE)),
        ];
        for (raw, event) in cases {
            assert_eq!(key_of_event(&event), Some(key(raw)), "{raw} vs {event:?}");
        }
    }

    #[test]
    fn releases_are_not_keys() {
        let mut event = press(KeyCode::Char('q'), KeyModifiers::NONE);
        event.kind = KeyEventKind::Release;
        assert_eq!(key_of_event(&event), None);
    }

    #[test]
    fn bad_key_strings_are_refused_with_a_hint() {
        for raw in [
            "",
            "ctrl-",
            "entr",
            "a-b",
            "shift-/",
            "shift-1",
            "ctrl-hyperdrive",
            " ",
        ] {
            let e = parse_key(raw).expect_err(raw);
            assert!(!e.hint.is_empty(), "{raw}");
        }
        assert_eq!(
            parse_key("entr").expect_err("typo").hint,
            "did you mean `enter`?"
        );
    }

    #[test]
    fn display_reads_back_to_the_same_key() {
        for raw in [
            "G",
            "g",
            "ctrl-c",
            "shift-tab",
            "tab",
            "pgup",
            "end",
            "f5",
            "alt-x",
            "ctrl-shift-x",
            "-",
            "ctrl--",
            ":",
            "é",
            "space",
        ] {
            let k = key(raw);
            assert_eq!(
                key(&key_display(&k)),
                k,
                "{raw} shown as {}",
                key_display(&k)
            );
        }
        assert_eq!(key_display(&key("shift-g")), "G");
        assert_eq!(key_display(&key("backtab")), "shift-tab");
        assert_eq!(key_display(&key("PageDown")), "pgdn");
    }

    #[test]
    fn builtins_parse_and_unknown_names_list_the_real_ones() {
        for name in Keymap::builtin_names() {
            Keymap::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let e = Keymap::builtin("vi").expect_err("no such keymap");
        assert_eq!(
            e.hint.as_deref(),
            Some("did you mean `vim`? the built-in keymaps are default, vim")
        );
    }

    #[test]
    fn syntax_error_key_comes_from_the_broken_line() {
        assert_eq!(
            key_near("[global]\n? = \"help\"\n", 9),
            Some("global.\"?\"".to_string())
        );
        assert_eq!(
            key_near("[global]\n\"q\" = quit\n", 15),
            Some("global.q".to_string())
        );
        assert_eq!(key_near("[glob\n", 0), None);
        assert_eq!(key_near("", 0), None);
    }
}
