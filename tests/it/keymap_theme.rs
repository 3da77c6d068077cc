//! Keymaps and themes as a user meets them: the shipped files, override files laid over
//! them, and the errors a broken file produces (file, line, column, key and hint).

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use mastop::config::FileError;
use mastop::tui::command::{Command, Mode};
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::{Theme, Token};
use ratatui::style::{Color, Modifier};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn themes_dir() -> PathBuf {
    fixture("themes")
}

fn press(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn chord(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new(code, modifiers)
}

fn ch(c: char) -> KeyEvent {
    press(KeyCode::Char(c))
}

fn keymap_error(name: &str) -> FileError {
    let path = fixture(&format!("keymaps/{name}"));
    Keymap::load("default", Some(&path)).expect_err("the fixture is broken on purpose")
}

fn theme_error(name: &str) -> FileError {
    Theme::load(name, Some(&themes_dir())).expect_err("the fixture is broken on purpose")
}

/// Checks every part of an error, so a regression in any one of them shows.
fn assert_error(
    e: &FileError,
    file: &str,
    position: (usize, usize),
    key: &str,
    message: &str,
    hint: &str,
) {
    assert!(
        e.origin.ends_with(file),
        "origin {} should be {file}\n{e}",
        e.origin
    );
    assert_eq!(e.position, Some(position), "{e}");
    assert_eq!(e.key.as_deref(), Some(key), "{e}");
    assert_eq!(e.message, message, "{e}");
    assert_eq!(e.hint.as_deref(), Some(hint), "{e}");
}

// ---- shipped keymaps ----

#[test]
fn default_and_vim_bind_every_action_somewhere() {
    for name in Keymap::builtin_names() {
        let keymap = Keymap::builtin(name).expect("shipped keymaps parse");
        let bound: Vec<Command> = Mode::ALL
            .iter()
            .flat_map(|m| keymap.bindings(*m))
            .map(|(_, action)| action)
            .collect();
        let unbound: Vec<&str> = Command::ALL
            .iter()
            .filter(|a| !bound.contains(a))
            .map(|a| a.name())
            .collect();
        assert!(
            unbound.is_empty(),
            "keymap {name} leaves unbound: {unbound:?}"
        );
    }
}

#[test]
fn default_keymap_has_k9s_habits() {
    let km = Keymap::builtin("default").expect("default parses");
    let list = |event: KeyEvent| km.command(Mode::List, &event);
    assert_eq!(list(ch(':')), Some(Command::Palette));
    assert_eq!(list(ch('/')), Some(Command::Filter));
    assert_eq!(list(ch('?')), Some(Command::Help));
    assert_eq!(list(press(KeyCode::Esc)), Some(Command::Back));
    assert_eq!(list(ch('q')), Some(Command::Quit));
    assert_eq!(
        list(chord(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Command::Quit)
    );
    assert_eq!(list(press(KeyCode::Tab)), Some(Command::NextView));
    assert_eq!(
        list(chord(KeyCode::BackTab, KeyModifiers::SHIFT)),
        Some(Command::PrevView)
    );
    assert_eq!(list(ch('1')), Some(Command::View1));
    assert_eq!(list(ch('9')), Some(Command::View9));
    assert_eq!(list(ch('j')), Some(Command::Down));
    assert_eq!(list(press(KeyCode::Up)), Some(Command::Up));
    assert_eq!(list(press(KeyCode::PageDown)), Some(Command::PageDown));
    assert_eq!(list(press(KeyCode::Home)), Some(Command::Top));
    assert_eq!(list(press(KeyCode::Enter)), Some(Command::Select));
    assert_eq!(list(ch('s')), Some(Command::SortNext));
    // Uppercase letters are shift + letter: `S` and `s` must not collapse into one key.
    assert_eq!(
        list(chord(KeyCode::Char('S'), KeyModifiers::SHIFT)),
        Some(Command::SortReverse)
    );
    assert_eq!(
        list(chord(KeyCode::Char('l'), KeyModifiers::CONTROL)),
        Some(Command::Redraw)
    );
    assert_eq!(
        list(chord(KeyCode::Char('z'), KeyModifiers::CONTROL)),
        Some(Command::Suspend)
    );
}

#[test]
fn vim_keymap_has_vim_habits() {
    let km = Keymap::builtin("vim").expect("vim parses");
    let list = |event: KeyEvent| km.command(Mode::List, &event);
    assert_eq!(list(ch('g')), Some(Command::Top));
    assert_eq!(
        list(chord(KeyCode::Char('G'), KeyModifiers::SHIFT)),
        Some(Command::Bottom)
    );
    assert_eq!(
        list(chord(KeyCode::Char('d'), KeyModifiers::CONTROL)),
        Some(Command::HalfPageDown)
    );
    assert_eq!(
        list(chord(KeyCode::Char('u'), KeyModifiers::CONTROL)),
        Some(Command::HalfPageUp)
    );
    assert_eq!(
        list(chord(KeyCode::Char('f'), KeyModifiers::CONTROL)),
        Some(Command::PageDown)
    );
    assert_eq!(
        list(chord(KeyCode::Char('b'), KeyModifiers::CONTROL)),
        Some(Command::PageUp)
    );
    assert_eq!(list(ch('h')), Some(Command::Back));
    assert_eq!(list(ch('l')), Some(Command::Select));
    assert_eq!(list(ch('k')), Some(Command::Up));
}

#[test]
fn modes_fall_back_to_global_except_the_prompt() {
    let km = Keymap::builtin("default").expect("default parses");
    // help's own `q` wins over global quit; `:` is not in [help], so global answers.
    assert_eq!(km.command(Mode::Help, &ch('q')), Some(Command::Back));
    assert_eq!(km.command(Mode::Help, &ch(':')), Some(Command::Palette));
    // In the prompt, letters are text even though global binds them.
    assert_eq!(km.command(Mode::Prompt, &ch('q')), None);
    assert_eq!(km.command(Mode::Prompt, &ch('?')), None);
    assert_eq!(
        km.command(Mode::Prompt, &press(KeyCode::Enter)),
        Some(Command::Confirm)
    );
    assert_eq!(
        km.command(Mode::Prompt, &press(KeyCode::Esc)),
        Some(Command::Cancel)
    );
    assert_eq!(
        km.command(Mode::Prompt, &press(KeyCode::Tab)),
        Some(Command::Complete)
    );
    assert_eq!(
        km.command(
            Mode::Prompt,
            &chord(KeyCode::Char('c'), KeyModifiers::CONTROL)
        ),
        Some(Command::Quit)
    );
}

#[test]
fn footer_hints_use_the_first_key_written_and_follow_the_fallback() {
    let km = Keymap::builtin("default").expect("default parses");
    assert_eq!(km.key_for(Mode::List, Command::Help).as_deref(), Some("?"));
    assert_eq!(km.key_for(Mode::List, Command::Quit).as_deref(), Some("q"));
    assert_eq!(
        km.key_for(Mode::List, Command::PrevView).as_deref(),
        Some("shift-tab")
    );
    assert_eq!(
        km.key_for(Mode::List, Command::SortReverse).as_deref(),
        Some("S")
    );
    assert_eq!(
        km.key_for(Mode::List, Command::HalfPageDown).as_deref(),
        Some("ctrl-d")
    );
    assert_eq!(
        km.key_for(Mode::Help, Command::Back).as_deref(),
        Some("esc")
    );
    assert_eq!(km.key_for(Mode::Prompt, Command::Help), None);
}

#[test]
fn bindings_are_grouped_in_action_order_for_the_help_overlay() {
    let km = Keymap::builtin("default").expect("default parses");
    let global = km.bindings(Mode::Global);
    let rank = |a: Command| {
        Command::ALL
            .iter()
            .position(|x| *x == a)
            .expect("every action is in ALL")
    };
    assert!(
        global.windows(2).all(|w| rank(w[0].1) <= rank(w[1].1)),
        "{global:?}"
    );
    assert_eq!(global[0], ("q".to_string(), Command::Quit));
    assert_eq!(global[1], ("ctrl-c".to_string(), Command::Quit));
    // [list] alone does not repeat global keys; the effective view adds the unshadowed ones.
    assert!(
        !km.bindings(Mode::List)
            .iter()
            .any(|(_, a)| *a == Command::Quit)
    );
    assert!(
        km.effective_bindings(Mode::List)
            .contains(&("q".to_string(), Command::Quit))
    );
    assert!(
        !km.effective_bindings(Mode::Help)
            .contains(&("q".to_string(), Command::Quit))
    );
}

#[test]
fn unknown_builtin_keymap_lists_the_real_ones() {
    let e = Keymap::builtin("emacs").expect_err("there is no emacs keymap");
    assert_eq!(e.key.as_deref(), Some("ui.keymap"));
    assert_eq!(e.message, "no built-in keymap called `emacs`");
    assert_eq!(
        e.hint.as_deref(),
        Some("the built-in keymaps are default, vim")
    );
}

// ---- user keymap overrides ----

#[test]
fn a_user_file_changes_only_what_it_names() {
    let km = Keymap::load("default", Some(&fixture("keymaps/user_override.toml")))
        .expect("override applies");
    let list = |event: KeyEvent| km.command(Mode::List, &event);
    assert_eq!(
        list(chord(KeyCode::Char('q'), KeyModifiers::CONTROL)),
        Some(Command::Quit)
    );
    assert_eq!(list(ch('q')), None, "q was disabled in [global]");
    assert_eq!(list(ch('x')), Some(Command::Help));
    // `<disabled>` in [list] also hides the global meaning of `?` there...
    assert_eq!(list(ch('?')), None);
    // ...but not in other modes.
    assert_eq!(km.command(Mode::Help, &ch('?')), Some(Command::Back));
    assert_eq!(list(ch('s')), None);
    // Untouched keys keep their base meaning.
    assert_eq!(
        list(chord(KeyCode::Char('S'), KeyModifiers::SHIFT)),
        Some(Command::SortReverse)
    );
    assert_eq!(
        list(chord(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Command::Quit)
    );
    assert_eq!(list(ch('j')), Some(Command::Down));
    assert_eq!(km.command(Mode::Help, &ch('q')), Some(Command::Back));
    // The footer follows: q is gone, so ctrl-c (first written in the base) is shown.
    assert_eq!(
        km.key_for(Mode::List, Command::Quit).as_deref(),
        Some("ctrl-c")
    );
    assert_eq!(km.key_for(Mode::List, Command::Help).as_deref(), Some("x"));
}

#[test]
fn a_missing_user_file_means_no_overrides() {
    let missing = fixture("keymaps/does-not-exist.toml");
    let loaded = Keymap::load("vim", Some(&missing)).expect("a missing user file is fine");
    assert_eq!(loaded, Keymap::builtin("vim").expect("vim parses"));
}

#[test]
fn overrides_are_all_or_nothing() {
    let mut km = Keymap::builtin("default").expect("default parses");
    let before = km.clone();
    let broken = "[global]\n\"ctrl-q\" = \"quit\"\n\"x\" = \"nope\"\n";
    km.apply_overrides(broken, "inline")
        .expect_err("unknown action");
    assert_eq!(km, before);
}

// ---- broken keymaps ----

#[test]
fn duplicate_key_after_normalisation_names_both_lines() {
    let e = keymap_error("duplicate_key.toml");
    assert_error(
        &e,
        "duplicate_key.toml",
        (5, 1),
        "global.shift-q",
        "`shift-q` is the same key as `Q` on line 3",
        "lines 3 and 5 both bind Q; keep one of them",
    );
}

#[test]
fn unknown_action_suggests_the_closest() {
    let e = keymap_error("unknown_action.toml");
    assert_error(
        &e,
        "unknown_action.toml",
        (3, 7),
        "list.k",
        "unknown action `upp`",
        "did you mean `up`?",
    );
}

#[test]
fn unknown_mode_suggests_the_closest() {
    let e = keymap_error("unknown_mode.toml");
    assert_error(
        &e,
        "unknown_mode.toml",
        (4, 2),
        "lists",
        "unknown mode table `[lists]`",
        "did you mean `[list]`?",
    );
}

#[test]
fn bad_key_string_suggests_a_key_name() {
    let e = keymap_error("bad_key.toml");
    assert_error(
        &e,
        "bad_key.toml",
        (2, 1),
        "global.ctrl-entr",
        "`ctrl-entr` is not a key",
        "did you mean `enter`?",
    );
}

#[test]
fn toml_syntax_error_points_at_the_broken_line() {
    let e = keymap_error("syntax_error.toml");
    assert!(e.origin.ends_with("syntax_error.toml"), "{e}");
    assert_eq!(e.position, Some((3, 1)), "{e}");
    assert_eq!(e.key.as_deref(), Some("global.\"?\""), "{e}");
    assert!(e.message.starts_with("TOML syntax error: "), "{e}");
    assert_eq!(
        e.hint.as_deref(),
        Some(
            "keys other than plain letters, digits, `-` and `_` need quotes, and actions are quoted strings: \
             \"?\" = \"help\""
        )
    );
}

// ---- shipped themes ----

#[test]
fn every_shipped_theme_stands_alone_and_defines_every_token() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes");
    for name in Theme::names_builtin() {
        let text = std::fs::read_to_string(shipped.join(format!("{name}.toml")))
            .expect("shipped theme file");
        let doc: toml::Table = toml::from_str(&text).expect("shipped theme is TOML");
        assert!(doc.get("inherits").is_none(), "{name} must not inherit");
        let tokens = doc
            .get("tokens")
            .and_then(|t| t.as_table())
            .expect("shipped theme has [tokens]");
        for token in Token::ALL {
            assert!(
                tokens.contains_key(token.name()),
                "{name} does not define {}",
                token.name()
            );
        }
        Theme::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn crit_is_bold_in_every_shipped_theme_even_without_colour() {
    for name in Theme::names_builtin() {
        let theme = Theme::builtin(name).expect("shipped themes load");
        assert!(
            theme
                .style(Token::Crit)
                .add_modifier
                .contains(Modifier::BOLD),
            "{name}"
        );
        assert!(
            theme
                .without_color()
                .style(Token::Crit)
                .add_modifier
                .contains(Modifier::BOLD),
            "{name}"
        );
    }
}

#[test]
fn deuteranopia_tells_health_apart_without_red_or_green() {
    let theme = Theme::builtin("deuteranopia").expect("deuteranopia loads");
    let fg = |t: Token| theme.style(t).fg.expect("health tokens set a colour");
    let levels = [fg(Token::Ok), fg(Token::Warn), fg(Token::Crit)];
    let red_green = [Color::Red, Color::LightRed, Color::Green, Color::LightGreen];
    for colour in levels {
        assert!(!red_green.contains(&colour), "{colour:?}");
    }
    assert!(
        levels[0] != levels[1] && levels[1] != levels[2] && levels[0] != levels[2],
        "{levels:?}"
    );
}

#[test]
fn the_default_theme_name_ships() {
    assert!(Theme::names_builtin().contains(&mastop::tui::theme::DEFAULT));
    assert_eq!(Theme::builtin("dark").expect("dark loads").name(), "dark");
}

// ---- user themes ----

#[test]
fn user_themes_inherit_from_shipped_and_from_each_other() {
    let dark = Theme::builtin("dark").expect("dark loads");
    let night = Theme::load("ocean_night", Some(&themes_dir())).expect("user chain loads");
    assert_eq!(
        night.style(Token::Ok).fg,
        Some(Color::LightBlue),
        "its own token"
    );
    assert_eq!(
        night.style(Token::Accent).fg,
        Some(Color::Rgb(0x1e, 0x90, 0xff)),
        "from ocean"
    );
    assert_eq!(
        night.style(Token::Crit),
        dark.style(Token::Crit),
        "from dark"
    );
    // A child token replaces the parent's whole style: ocean's ok was bold, ocean_night's is not.
    assert!(!night.style(Token::Ok).add_modifier.contains(Modifier::BOLD));
}

#[test]
fn a_user_theme_wins_over_a_shipped_one_and_can_extend_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = "name = \"dark\"\ninherits = \"dark\"\n\n[tokens]\nwarn = { fg = \"208\", add_modifier = \"BOLD\" }\n";
    std::fs::write(dir.path().join("dark.toml"), text).expect("write theme");
    let shipped = Theme::builtin("dark").expect("dark loads");
    let mine = Theme::load("dark", Some(dir.path())).expect("user dark extends shipped dark");
    assert_eq!(mine.style(Token::Warn).fg, Some(Color::Indexed(208)));
    assert_eq!(mine.style(Token::Ok), shipped.style(Token::Ok));
}

#[test]
fn without_color_keeps_only_modifiers_and_a_visible_cursor() {
    for name in Theme::names_builtin() {
        let plain = Theme::builtin(name)
            .expect("shipped themes load")
            .without_color();
        for token in Token::ALL {
            let s = plain.style(*token);
            assert_eq!((s.fg, s.bg), (None, None), "{name}: {}", token.name());
        }
        assert!(
            plain
                .style(Token::Selection)
                .add_modifier
                .contains(Modifier::REVERSED),
            "{name}"
        );
    }
}

// ---- broken themes ----

#[test]
fn bad_colour_is_located_at_the_value() {
    let e = theme_error("bad_colour");
    let hint = "use a colour name (`green`, `light-red`, `dark-gray`, `reset`), a 256-colour index (`208`) or `#rrggbb`";
    assert_error(
        &e,
        "bad_colour.toml",
        (5, 13),
        "tokens.ok.fg",
        "`greeen` is not a colour",
        hint,
    );
}

#[test]
fn bad_modifier_lists_the_real_ones() {
    let e = theme_error("bad_modifier");
    assert_eq!(e.position, Some((5, 37)), "{e}");
    assert_eq!(e.key.as_deref(), Some("tokens.crit.add_modifier"));
    assert_eq!(e.message, "`BOLD | BLINKING` is not a modifier");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("modifiers are BOLD, DIM, ITALIC")),
        "{e}"
    );
}

#[test]
fn unknown_token_suggests_the_closest() {
    let e = theme_error("unknown_token");
    assert_error(
        &e,
        "unknown_token.toml",
        (6, 1),
        "tokens.statusbar",
        "unknown token `statusbar`",
        "did you mean `status_bar`?",
    );
}

#[test]
fn inheritance_cycle_is_reported_where_it_closes() {
    let e = theme_error("cycle_a");
    assert_error(
        &e,
        "cycle_b.toml",
        (2, 12),
        "inherits",
        "inheritance cycle: cycle_a → cycle_b → cycle_a",
        "one theme in the cycle must define every token itself instead of inheriting",
    );
}

#[test]
fn a_parentless_theme_must_define_every_token() {
    let e = theme_error("incomplete");
    assert_error(
        &e,
        "incomplete.toml",
        (4, 2),
        "tokens",
        "a theme without `inherits` must define every token; missing: accent, border, border_focus, title, \
         header, selection, unknown, disabled, status_bar, demo_banner, filter_match, key_hint",
        "add them, or add `inherits = \"dark\"` to take the rest from a shipped theme",
    );
}

#[test]
fn unknown_top_level_key_suggests_the_closest() {
    let e = theme_error("typo_inherits");
    assert_error(
        &e,
        "typo_inherits.toml",
        (2, 1),
        "inherit",
        "unknown key `inherit`",
        "did you mean `inherits`?",
    );
}

#[test]
fn unknown_parent_is_located_at_inherits() {
    let e = theme_error("unknown_parent");
    assert!(e.origin.ends_with("unknown_parent.toml"), "{e}");
    assert_eq!(e.position, Some((2, 12)), "{e}");
    assert_eq!(e.key.as_deref(), Some("inherits"));
    assert!(e.message.starts_with("no theme called `drk`"), "{e}");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("did you mean `dark`?")),
        "{e}"
    );
}

#[test]
fn unknown_theme_in_the_config_lists_shipped_and_user_themes() {
    let e = Theme::load("solarized", Some(&themes_dir())).expect_err("no such theme");
    assert_eq!(e.key.as_deref(), Some("ui.theme"));
    assert_eq!(e.position, None);
    let hint = e.hint.expect("a hint");
    assert!(
        hint.starts_with("themes: dark, light, high-contrast, deuteranopia, "),
        "{hint}"
    );
    assert!(hint.contains("ocean_night"), "{hint}");
}

// ---- robustness ----

#[test]
fn no_input_makes_either_loader_panic() {
    let inputs = [
        "",
        "[",
        "\u{0}",
        "é = 1\n",
        "[global]\n\"\" = \"quit\"\n",
        "[global]\n\"ctrl-\" = 1\n",
        "[global]\n\"q\" = [\"quit\"]\n",
        "[global.nested]\n\"q\" = \"quit\"\n",
        "[[global]]\n\"q\" = \"quit\"\n",
        "global = 3\n",
        "q = \"quit\"\n",
        "[prompt]\n\"shift-é\" = \"confirm\"\n\"É\" = \"cancel\"\n",
        "[list]\n\"\\u0007\" = \"up\"\n\"ctrl-alt-cmd-shift-f24\" = \"down\"\n",
        "name = \"x\"\n[tokens]\nok = \"green\"\n",
        "name = 7\n",
        "name = \"x\"\ninherits = \"../../etc\"\n",
        "name = \"x\"\n[tokens]\nok = { fg = 12, add_modifier = [\"BOLD\"] }\n",
        "name = \"x\"\n[tokens.ok]\nfg = \"#12\"\n",
        "name = \"x\"\ntokens = 1\n",
        "name = \"x\"\n[tokens]\nok = { fg = \"red\" }\nok = { fg = \"blue\" }\n",
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    for text in inputs {
        let lines = text.lines().count().max(1) + 1;
        if let Err(e) = Keymap::parse_str(text, "inline") {
            assert!(
                e.position
                    .is_none_or(|(line, col)| line <= lines && col >= 1),
                "{text:?}: {e}"
            );
        }
        std::fs::write(dir.path().join("x.toml"), text).expect("write theme");
        if let Err(e) = Theme::load("x", Some(dir.path())) {
            assert!(
                e.position
                    .is_none_or(|(line, col)| line <= lines && col >= 1),
                "{text:?}: {e}"
            );
        }
    }
}

/// The README names the keys that page through Sidekiq's sets and filter by class; they
/// are the keys the shipped keymaps bind, in every place the README mentions them.
#[test]
fn the_readme_names_the_sidekiq_paging_keys_the_keymaps_bind() {
    let readme = include_str!("../../README.md");
    let patterns = [
        // The key table: "| `n` / `N`, `c` | on a Sidekiq retry, … table: next / previous page, …"
        r"\| `([^`]+)` / `([^`]+)`, `([^`]+)` \| on a Sidekiq",
        // The sources table: "page by page (`n`/`N`, `c` for one job class)"
        r"page by page \(`([^`]+)`/`([^`]+)`, `([^`]+)` for one job class\)",
    ];
    for name in ["default", "vim"] {
        let keymap = Keymap::builtin(name).expect("shipped keymap");
        let bound = |action| keymap.key_for(Mode::List, action).expect("bound");
        let want = [
            bound(Command::NextPage),
            bound(Command::PrevPage),
            bound(Command::ClassFilter),
        ];
        for pattern in patterns {
            let re = regex::Regex::new(pattern).expect("pattern");
            let found: Vec<[String; 3]> = re
                .captures_iter(readme)
                .map(|c| [1, 2, 3].map(|i| c[i].to_string()))
                .collect();
            assert_eq!(found.len(), 1, "{pattern} appears once in the README");
            assert_eq!(found[0], want, "{name} keymap vs README ({pattern})");
        }
    }
}
