//! Placeholders in runbook text: `{days}` names a parameter, `{host.name}` and
//! `{host.address}` the host a step runs on; `{{` and `}}` are literal braces.
//!
//! A template only ever fills ONE argv element, one SQL `$n` parameter, one Redis argument
//! or one URL. The value lands inside that element as data: it cannot add an element, and
//! SQL text is never a template at all.

use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// A parameter, or `host.name` / `host.address`.
    Slot(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub source: String,
    pub pieces: Vec<Piece>,
}

/// Names a step may use besides its runbook's parameters.
pub const HOST_SLOTS: &[&str] = &["host.name", "host.address"];

impl Template {
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '.' => {
                                name.push(c)
                            }
                            Some(c) => {
                                return Err(format!(
                                    "`{c}` inside a placeholder in `{source}` (write `{{{{` for a literal brace)"
                                ));
                            }
                            None => {
                                return Err(format!("an unclosed `{{` in `{source}`"));
                            }
                        }
                    }
                    if name.is_empty() {
                        return Err(format!("an empty placeholder `{{}}` in `{source}`"));
                    }
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Slot(name));
                }
                '}' => {
                    return Err(format!(
                        "a lone `}}` in `{source}` (write `}}}}` for a literal brace)"
                    ));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template {
            source: source.to_string(),
            pieces,
        })
    }

    pub fn slots(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Slot(s) => Some(s.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// The template as one string, with every slot filled from `values`.
    pub fn fill(&self, values: &BTreeMap<String, String>) -> Result<String, String> {
        self.fill_with(values, |_, v| v.to_string())
    }

    /// Like `fill`, with each slot's value passed through `encode(name, value)`
    /// (percent-encoding parameters placed in URLs).
    pub fn fill_with(
        &self,
        values: &BTreeMap<String, String>,
        encode: impl Fn(&str, &str) -> String,
    ) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Slot(name) => match values.get(name) {
                    Some(v) => out.push_str(&encode(name, v)),
                    None => return Err(format!("`{{{name}}}` has no value")),
                },
            }
        }
        Ok(out)
    }

    /// A template that is exactly one slot, e.g. `"{host}"`.
    pub fn sole_slot(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [Piece::Slot(s)] => Some(s),
            _ => None,
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so a value placed in a
/// URL stays one path segment or query value.
pub fn url_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fills_slots_and_keeps_literal_braces() {
        let t = Template::parse("--days={days} {{x}}").expect("parses");
        assert_eq!(t.slots().collect::<Vec<_>>(), ["days"]);
        assert_eq!(
            t.fill(&values(&[("days", "7")])).expect("fills"),
            "--days=7 {x}"
        );
        assert_eq!(
            Template::parse("{host}").expect("parses").sole_slot(),
            Some("host")
        );
    }

    #[test]
    fn broken_placeholders_are_errors_not_text() {
        for bad in ["{days", "a}b", "{}", "{a b}", "{$(x)}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let t = Template::parse("{missing}").expect("parses");
        assert_eq!(
            t.fill(&BTreeMap::new()).expect_err("no value"),
            "`{missing}` has no value"
        );
    }

    #[test]
    fn url_values_cannot_leave_their_segment() {
        let t = Template::parse("http://{host.address}:3000/x/{d}").expect("parses");
        let url = t
            .fill_with(
                &values(&[("host.address", "10.0.0.1"), ("d", "a/../b?c=1#@evil")]),
                |_, v| url_encode(v),
            )
            .expect("fills");
        assert_eq!(url, "http://10.0.0.1:3000/x/a%2F..%2Fb%3Fc%3D1%23%40evil");
    }
}
