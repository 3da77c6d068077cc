//! The one command line an argv becomes on its way to a host. sshd hands a command to the
//! remote user's shell as a single string, so each argument is quoted for that shell. The
//! SSH runner sends this string and the audit records it, so what the operator approved,
//! what the log holds and what the host ran are the same bytes.

use std::borrow::Cow;

/// Characters no POSIX shell treats specially, anywhere in a word.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '/' | ',' | '.' | '+')
}

/// One argument as a shell word: as it is when made only of plain characters, otherwise
/// in single quotes, with each `'` and `!` closing the quote, escaped, and reopening it.
/// These are openssh's own rules for `Command::arg` (shell-escape's Unix escaping); the
/// runner now sends the result with `raw_command`, so the two cannot drift apart.
pub fn shell_word(arg: &str) -> Cow<'_, str> {
    if !arg.is_empty() && arg.chars().all(plain) {
        return Cow::Borrowed(arg);
    }
    let mut word = String::with_capacity(arg.len() + 2);
    word.push('\'');
    for c in arg.chars() {
        if c == '\'' || c == '!' {
            word.push_str("'\\");
            word.push(c);
            word.push('\'');
        } else {
            word.push(c);
        }
    }
    word.push('\'');
    Cow::Owned(word)
}

/// The command line for `argv`: its shell words joined by single spaces.
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_and_the_rest_is_quoted() {
        let argv: Vec<String> = [
            "systemctl",
            "reload",
            "--",
            "mastodon-web.service",
            "#x",
            "a b",
            "it's",
            "wow!",
            "",
            "$(id)",
            "@host:22",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            command_line(&argv),
            r#"systemctl reload -- mastodon-web.service '#x' 'a b' 'it'\''s' 'wow'\!'' '' '$(id)' '@host:22'"#
        );
    }

    /// Against the escaping openssh itself uses for `Command::arg`, on generated input.
    #[test]
    fn every_word_matches_openssh_escaping() {
        const PIECES: &[&str] = &[
            "a", "Z", "0", "-", "_", "=", "/", ",", ".", "+", "#", "%", "@", ":", "~", "*", "?",
            "'", "!", "\"", "\\", "$", "`", " ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">",
            "é", "東", "🦣", "\u{1b}", "{", "}", "[", "]", "^",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..5000 {
            let len = next(12);
            let arg: String = (0..len).map(|_| PIECES[next(PIECES.len())]).collect();
            assert_eq!(
                shell_word(&arg),
                shell_escape::unix::escape(Cow::Borrowed(arg.as_str())),
                "{arg:?}"
            );
        }
    }
}
