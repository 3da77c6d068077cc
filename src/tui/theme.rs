//! Themes: a style for each semantic [`Token`], so views say what a thing *is* (a warning, a
//! border) and the theme decides how it looks.
//!
//! A theme file has `name`, an optional `inherits`, and a `[tokens]` table of ratatui styles
//! (`ok = { fg = "green", add_modifier = "BOLD" }`). A token a theme leaves out comes from its
//! parent, whole: a child's `ok` replaces the parent's `ok`, it does not patch it. A theme
//! without `inherits` must define every token, so nothing is ever silently unstyled.
//!
//! User themes live in `<config dir>/themes/<name>.toml`, win over a shipped theme of the same
//! name, and may inherit from a shipped or another user theme. A user theme that inherits its
//! own name (`themes/dark.toml` with `inherits = "dark"`) extends the shipped one.
//!
//! Health is never shown by colour alone (the views add words and symbols), so `crit` is bold
//! in every shipped theme and [`Theme::without_color`] keeps every modifier.

use std::ffi::OsStr;
use std::path::Path;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::keymap::{in_file_order, toml_key, toml_syntax_error};
use crate::config::{FileError, closest, line_col, quote};

/// The theme used when the config names none.
pub const DEFAULT: &str = "dark";

const BUILTINS: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    (
        "deuteranopia",
        include_str!("../../themes/deuteranopia.toml"),
    ),
];

const SYNTAX_HINT: &str = "a token's style is an inline table of strings: ok = { fg = \"green\", add_modifier = \"BOLD\" }";
const COLOUR_HINT: &str = "use a colour name (`green`, `light-red`, `dark-gray`, `reset`), a 256-colour index \
                           (`208`) or `#rrggbb`";
const MODIFIER_HINT: &str = "modifiers are BOLD, DIM, ITALIC, UNDERLINED, SLOW_BLINK, RAPID_BLINK, REVERSED, \
                             HIDDEN and CROSSED_OUT; combine them with `|`, e.g. \"BOLD | UNDERLINED\"";
const STYLE_FIELDS: &[&str] = &[
    "fg",
    "bg",
    "underline_color",
    "add_modifier",
    "sub_modifier",
];
const TOP_LEVEL_KEYS: &[&str] = &["name", "inherits", "tokens"];

/// What a piece of the screen is, independent of how it looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Token {
    /// Ordinary text.
    Text,
    /// Secondary text: ages, units, explanations.
    Muted,
    /// Something to notice that is not a health level: the prompt sigil, the cursor mark.
    Accent,
    Border,
    /// The border of the panel that has focus.
    BorderFocus,
    /// Panel and overlay titles.
    Title,
    /// Table column headers.
    Header,
    /// The selected row.
    Selection,
    Ok,
    Warn,
    Crit,
    /// No data, or data too old to judge.
    Unknown,
    /// A feature turned off (e.g. for lack of privilege).
    Disabled,
    StatusBar,
    /// The banner that says the fleet on screen is simulated.
    DemoBanner,
    /// The filter text and what it matched.
    FilterMatch,
    /// Keys in the footer and the help overlay.
    KeyHint,
}

const TOKEN_COUNT: usize = 17;

impl Token {
    pub const ALL: &'static [Token; TOKEN_COUNT] = &[
        Token::Text,
        Token::Muted,
        Token::Accent,
        Token::Border,
        Token::BorderFocus,
        Token::Title,
        Token::Header,
        Token::Selection,
        Token::Ok,
        Token::Warn,
        Token::Crit,
        Token::Unknown,
        Token::Disabled,
        Token::StatusBar,
        Token::DemoBanner,
        Token::FilterMatch,
        Token::KeyHint,
    ];

    /// The name used in theme files.
    pub fn name(self) -> &'static str {
        match self {
            Token::Text => "text",
            Token::Muted => "muted",
            Token::Accent => "accent",
            Token::Border => "border",
            Token::BorderFocus => "border_focus",
            Token::Title => "title",
            Token::Header => "header",
            Token::Selection => "selection",
            Token::Ok => "ok",
            Token::Warn => "warn",
            Token::Crit => "crit",
            Token::Unknown => "unknown",
            Token::Disabled => "disabled",
            Token::StatusBar => "status_bar",
            Token::DemoBanner => "demo_banner",
            Token::FilterMatch => "filter_match",
            Token::KeyHint => "key_hint",
        }
    }

    pub fn from_name(name: &str) -> Option<Token> {
        Token::ALL.iter().copied().find(|t| t.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A style for every token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    name: String,
    styles: [Style; TOKEN_COUNT],
}

/// Whether the `NO_COLOR` convention (no-color.org) asks for no colour: the variable is set
/// and not empty. The caller reads the environment, so this stays testable.
/// Where `:theme NAME` finds themes, and whether colour is off (`NO_COLOR`): the event
/// loop loads a theme the operator names with it.
#[derive(Clone, Debug, Default)]
pub struct ThemeShelf {
    pub dir: Option<std::path::PathBuf>,
    pub no_color: bool,
}

impl ThemeShelf {
    pub fn load(&self, name: &str) -> Result<Theme, FileError> {
        let theme = Theme::load(name, self.dir.as_deref())?;
        Ok(if self.no_color {
            theme.without_color()
        } else {
            theme
        })
    }
}

pub fn no_color_requested(env_value: Option<&OsStr>) -> bool {
    env_value.is_some_and(|v| !v.is_empty())
}

impl Theme {
    pub fn names_builtin() -> Vec<&'static str> {
        BUILTINS.iter().map(|(name, _)| *name).collect()
    }

    /// A theme shipped in the binary.
    pub fn builtin(name: &str) -> Result<Theme, FileError> {
        Theme::load(name, None)
    }

    /// `<user_themes_dir>/<name>.toml` if it exists, else the shipped theme called `name`.
    /// Errors about the name itself (not about a file) have origin `config` and key `ui.theme`;
    /// the caller may point them at wherever the name came from.
    pub fn load(name: &str, user_themes_dir: Option<&Path>) -> Result<Theme, FileError> {
        let mut chain = Vec::new();
        let styles = resolve(name, user_themes_dir, false, &mut chain, None)?;
        Ok(Theme {
            name: name.to_string(),
            styles,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn style(&self, token: Token) -> Style {
        self.styles[token.index()]
    }

    /// The same theme for `NO_COLOR`: only modifiers survive, and the selection and the demo
    /// banner are reversed so the cursor and the "simulated" warning stay visible.
    pub fn without_color(&self) -> Theme {
        let mut styles = self.styles.map(|s| Style {
            add_modifier: s.add_modifier,
            sub_modifier: s.sub_modifier,
            ..Style::new()
        });
        for token in [Token::Selection, Token::DemoBanner] {
            let style = &mut styles[token.index()];
            *style = style.add_modifier(Modifier::REVERSED);
        }
        Theme {
            name: self.name.clone(),
            styles,
        }
    }
}

/// The `inherits` value that asked for a theme, so errors about that theme can point at it.
struct Link<'a> {
    origin: &'a str,
    position: (usize, usize),
}

impl Link<'_> {
    fn error(link: Option<&Link<'_>>, message: String) -> FileError {
        match link {
            Some(l) => FileError::new(l.origin, message)
                .at(Some(l.position))
                .key("inherits"),
            None => FileError::new("config", message).key("ui.theme"),
        }
    }
}

fn resolve(
    name: &str,
    user_dir: Option<&Path>,
    builtins_only: bool,
    chain: &mut Vec<(String, bool)>,
    link: Option<&Link<'_>>,
) -> Result<[Style; TOKEN_COUNT], FileError> {
    // The name becomes part of a path, so nothing that could leave the themes dir.
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(
            Link::error(link, format!("`{}` is not a theme name", quote(name)))
                .hint("theme names are letters, digits, `-` and `_`, e.g. `high-contrast`"),
        );
    }
    let user_file = if builtins_only {
        None
    } else {
        user_dir.map(|d| d.join(format!("{name}.toml")))
    };
    let user_text = match &user_file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(FileError::new(
                    path.display().to_string(),
                    format!("cannot read the theme: {e}"),
                )
                .hint("check the file's permissions"));
            }
        },
        None => None,
    };
    let is_user = user_text.is_some();
    let (origin, text) = match (&user_file, user_text) {
        (Some(path), Some(text)) => (path.display().to_string(), text),
        _ => match BUILTINS.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => (format!("built-in theme `{name}`"), (*text).to_string()),
            None => {
                return Err(unknown_theme(
                    name,
                    if builtins_only { None } else { user_dir },
                    link,
                ));
            }
        },
    };
    if chain.iter().any(|(n, user)| n == name && *user == is_user) {
        let mut names: Vec<&str> = chain.iter().map(|(n, _)| n.as_str()).collect();
        names.push(name);
        return Err(
            Link::error(link, format!("inheritance cycle: {}", names.join(" → "))).hint(
                "one theme in the cycle must define every token itself instead of inheriting",
            ),
        );
    }
    let file = parse_file(&text, &origin, name)?;
    let mut styles = match &file.inherits {
        Some((parent, position)) => {
            chain.push((name.to_string(), is_user));
            let parent_link = Link {
                origin: &origin,
                position: *position,
            };
            // Shipped themes never see user files; a user theme named like its parent extends
            // the shipped one rather than itself.
            let parent_builtins_only = !is_user || parent == name;
            let styles = resolve(
                parent,
                user_dir,
                parent_builtins_only,
                chain,
                Some(&parent_link),
            );
            chain.pop();
            styles?
        }
        None => {
            let missing: Vec<&str> = Token::ALL
                .iter()
                .filter(|t| !file.tokens.iter().any(|(d, _)| d == *t))
                .map(|t| t.name())
                .collect();
            if !missing.is_empty() {
                return Err(FileError::new(
                    origin.as_str(),
                    format!("a theme without `inherits` must define every token; missing: {}", missing.join(", ")),
                )
                .at(Some(file.tokens_position))
                .key("tokens")
                .hint(format!("add them, or add `inherits = \"{DEFAULT}\"` to take the rest from a shipped theme")));
            }
            [Style::new(); TOKEN_COUNT]
        }
    };
    for (token, style) in file.tokens {
        styles[token.index()] = style;
    }
    Ok(styles)
}

fn unknown_theme(name: &str, user_dir: Option<&Path>, link: Option<&Link<'_>>) -> FileError {
    let mut names: Vec<String> = Theme::names_builtin()
        .into_iter()
        .map(str::to_string)
        .collect();
    if let Some(dir) = user_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut user: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
            .filter(|n| !names.contains(n))
            .collect();
        user.sort();
        names.extend(user);
    }
    let hint = match closest(name, names.iter().map(String::as_str)) {
        Some(near) => format!("did you mean `{near}`? themes: {}", names.join(", ")),
        None => format!("themes: {}", names.join(", ")),
    };
    let place = match user_dir {
        Some(dir) => format!(" (looked in {} and the shipped themes)", dir.display()),
        None => String::new(),
    };
    Link::error(link, format!("no theme called `{}`{place}", quote(name))).hint(hint)
}

struct ThemeFile {
    inherits: Option<(String, (usize, usize))>,
    tokens: Vec<(Token, Style)>,
    /// Where `[tokens]` is (or the top of the file), for "missing token" errors.
    tokens_position: (usize, usize),
}

fn parse_file(text: &str, origin: &str, expected_name: &str) -> Result<ThemeFile, FileError> {
    let root =
        DeTable::parse(text).map_err(|e| toml_syntax_error(text, origin, &e, SYNTAX_HINT))?;
    let at = |span: std::ops::Range<usize>| Some(line_col(text, span.start));
    let mut file = ThemeFile {
        inherits: None,
        tokens: Vec::new(),
        tokens_position: (1, 1),
    };
    let mut named = false;
    for (key, value) in in_file_order(root.get_ref()) {
        let key_name = key.get_ref().as_ref();
        let err = |message: String| FileError::new(origin, message).key(toml_key(key_name));
        match key_name {
            "name" | "inherits" => {
                let Some(s) = value.get_ref().as_str() else {
                    return Err(err(format!(
                        "expected a theme name, found {}",
                        value.get_ref().type_str()
                    ))
                    .at(at(value.span()))
                    .hint(format!("write it in quotes: {key_name} = \"{DEFAULT}\"")));
                };
                if key_name == "inherits" {
                    file.inherits = Some((s.to_string(), line_col(text, value.span().start)));
                } else if s != expected_name {
                    return Err(err(format!(
                        "this theme is loaded as `{expected_name}` but is named `{s}`"
                    ))
                    .at(at(value.span()))
                    .hint(format!(
                        "set name = \"{expected_name}\" to match the file name"
                    )));
                } else {
                    named = true;
                }
            }
            "tokens" => {
                file.tokens_position = line_col(text, key.span().start);
                let DeValue::Table(tokens) = value.get_ref() else {
                    return Err(err(format!("expected a table of token styles, found {}", value.get_ref().type_str()))
                        .at(at(value.span()))
                        .hint("write [tokens] on its own line, followed by entries like ok = { fg = \"green\" }"));
                };
                for (token_key, token_value) in in_file_order(tokens) {
                    file.tokens
                        .push(parse_token(text, origin, token_key, token_value)?);
                }
            }
            other => {
                let hint = match closest(other, TOP_LEVEL_KEYS.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "a theme file has `name`, `inherits` and a [tokens] table".to_string(),
                };
                return Err(err(format!("unknown key `{}`", quote(other)))
                    .at(at(key.span()))
                    .hint(hint));
            }
        }
    }
    if !named {
        return Err(FileError::new(origin, "the theme has no `name`")
            .at(Some((1, 1)))
            .key("name")
            .hint(format!("add name = \"{expected_name}\" at the top")));
    }
    Ok(file)
}

fn parse_token(
    text: &str,
    origin: &str,
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
) -> Result<(Token, Style), FileError> {
    let at = |span: std::ops::Range<usize>| Some(line_col(text, span.start));
    let raw = key.get_ref().as_ref();
    let path = format!("tokens.{}", toml_key(raw));
    let Some(token) = Token::from_name(raw) else {
        let names = || Token::ALL.iter().map(|t| t.name());
        let hint = match closest(raw, names()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("tokens are {}", names().collect::<Vec<_>>().join(", ")),
        };
        return Err(
            FileError::new(origin, format!("unknown token `{}`", quote(raw)))
                .at(at(key.span()))
                .key(path)
                .hint(hint),
        );
    };
    let DeValue::Table(fields) = value.get_ref() else {
        let example = value.get_ref().as_str().unwrap_or("green");
        return Err(FileError::new(
            origin,
            format!(
                "expected a style table, found {}",
                value.get_ref().type_str()
            ),
        )
        .at(at(value.span()))
        .key(path)
        .hint(format!(
            "write {} = {{ fg = \"{}\" }}",
            quote(raw),
            quote(example)
        )));
    };
    let mut style = Style::new();
    for (field_key, field_value) in in_file_order(fields) {
        let field = field_key.get_ref().as_ref();
        let field_path = format!("{path}.{}", toml_key(field));
        let err = |message: String, span: std::ops::Range<usize>, hint: String| {
            FileError::new(origin, message)
                .at(at(span))
                .key(field_path.clone())
                .hint(hint)
        };
        let string = field_value.get_ref().as_str();
        let found = || format!("found {}", field_value.get_ref().type_str());
        match field {
            "fg" | "bg" | "underline_color" => {
                let Some(colour) = string.and_then(|s| Color::from_str(s).ok()) else {
                    let what = string.map_or_else(found, |s| format!("`{}`", quote(s)));
                    return Err(err(
                        format!("{what} is not a colour"),
                        field_value.span(),
                        COLOUR_HINT.to_string(),
                    ));
                };
                style = match field {
                    "fg" => style.fg(colour),
                    "bg" => style.bg(colour),
                    _ => style.underline_color(colour),
                };
            }
            "add_modifier" | "sub_modifier" => {
                let Some(modifier) = string.and_then(parse_modifier) else {
                    let what = string.map_or_else(found, |s| format!("`{}`", quote(s)));
                    return Err(err(
                        format!("{what} is not a modifier"),
                        field_value.span(),
                        MODIFIER_HINT.to_string(),
                    ));
                };
                style = if field == "add_modifier" {
                    style.add_modifier(modifier)
                } else {
                    style.remove_modifier(modifier)
                };
            }
            other => {
                let hint = match closest(other, STYLE_FIELDS.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("a style has {}", STYLE_FIELDS.join(", ")),
                };
                return Err(err(
                    format!("unknown style field `{}`", quote(other)),
                    field_key.span(),
                    hint,
                ));
            }
        }
    }
    Ok((token, style))
}

/// `"BOLD | ITALIC"`, as ratatui's serde reads modifiers, but forgiving about case.
fn parse_modifier(text: &str) -> Option<Modifier> {
    let mut modifier = Modifier::empty();
    for part in text.split('|').map(str::trim) {
        modifier |= Modifier::from_name(&part.to_ascii_uppercase())?;
    }
    Some(modifier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn token_names_round_trip_and_index_their_slot() {
        for (i, token) in Token::ALL.iter().enumerate() {
            assert_eq!(Token::from_name(token.name()), Some(*token));
            assert_eq!(
                token.index(),
                i,
                "{} is out of place in Token::ALL",
                token.name()
            );
        }
    }

    #[test]
    fn styles_match_what_ratatui_serde_reads_from_the_same_table() {
        for name in Theme::names_builtin() {
            let (_, text) = BUILTINS
                .iter()
                .find(|(n, _)| *n == name)
                .expect("listed builtin exists");
            let theme = Theme::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let root: toml::Table = toml::from_str(text).expect("shipped theme is TOML");
            let tokens = root
                .get("tokens")
                .and_then(|t| t.as_table())
                .expect("shipped theme has [tokens]");
            for (token_name, value) in tokens {
                let token = Token::from_name(token_name).expect("shipped token names are valid");
                let via_serde = Style::deserialize(value.clone()).expect("ratatui reads the style");
                assert_eq!(theme.style(token), via_serde, "{name}: {token_name}");
            }
        }
    }

    #[test]
    fn modifiers_parse_like_ratatui_but_ignore_case() {
        assert_eq!(
            parse_modifier("BOLD | italic"),
            Some(Modifier::BOLD | Modifier::ITALIC)
        );
        assert_eq!(parse_modifier("BOLD |"), None);
        assert_eq!(parse_modifier("SHOUTY"), None);
    }

    #[test]
    fn no_color_means_set_and_not_empty() {
        assert!(!no_color_requested(None));
        assert!(!no_color_requested(Some(OsStr::new(""))));
        assert!(no_color_requested(Some(OsStr::new("1"))));
        assert!(no_color_requested(Some(OsStr::new("0"))));
    }

    #[test]
    fn without_color_keeps_modifiers_and_reverses_the_selection() {
        let theme = Theme::builtin("dark").expect("dark ships").without_color();
        for token in Token::ALL {
            let style = theme.style(*token);
            assert_eq!(
                (style.fg, style.bg),
                (None, None),
                "{} kept a colour",
                token.name()
            );
        }
        assert!(
            theme
                .style(Token::Selection)
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        assert!(
            theme
                .style(Token::Crit)
                .add_modifier
                .contains(Modifier::BOLD)
        );
    }

    #[test]
    fn names_that_could_leave_the_themes_dir_are_refused() {
        let e = Theme::load("../etc/passwd", Some(Path::new("/tmp"))).expect_err("not a name");
        assert_eq!(e.key.as_deref(), Some("ui.theme"));
        assert_eq!(e.message, "`../etc/passwd` is not a theme name");
    }
}
