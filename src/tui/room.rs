//! The live room as the console shows it: who else is watching (in the header), whether
//! the collector is alive and readable, and the action stream (a strip beside the body)
//! where every console sees what is done as it is recorded.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::component::Ctx;
use super::theme::Token;
use super::widgets::safe_owned;
use crate::actions::AuditRecord;
use crate::actions::audit::Phase;
use crate::live::room::{ACTIONS_SHOWN, RoomEvent};
use crate::model::Level;
use crate::store::room::{CollectorState, Presence};

/// A collector that has not beaten for this many cadences is silent.
pub const SILENT_AFTER_CADENCES: u32 = 3;

/// What a watching console refuses, and why, in the status line.
pub const ACTIONS_DISABLED: &str = "watching the room: actions are disabled here — a watcher holds no production credentials; act from an on-call console";

/// Why the handoff view is empty on a watching console.
pub const HANDOFFS_ELSEWHERE: &str =
    "watching the room: handoffs are read and written on an on-call console (mastop handoff show)";

/// One line of the action stream: an action's intent, replaced by its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionLine {
    pub action_id: String,
    pub text: String,
    pub level: Level,
}

/// The room, as the latest events told it.
#[derive(Clone, Debug, Default)]
pub struct Room {
    /// This console takes its fleet from the collector and may not act.
    pub watching: bool,
    pub present: Vec<Presence>,
    /// The collector's state and when this console read it.
    pub collector: Option<(CollectorState, SystemTime)>,
    /// The room was asked and no collector has ever published.
    pub no_collector: bool,
    pub actions: VecDeque<ActionLine>,
    /// The store's last failure, until the next success.
    pub trouble: Option<String>,
}

impl Room {
    pub fn watching() -> Room {
        Room {
            watching: true,
            ..Room::default()
        }
    }

    /// Since the leading collector's last beat, counting the time since it was read.
    pub fn collector_age(&self, now: SystemTime) -> Option<Duration> {
        let (state, read_at) = self.collector.as_ref()?;
        Some(state.age + now.duration_since(*read_at).unwrap_or_default())
    }

    /// How long the collector has been silent, once that is longer than three cadences.
    pub fn silent_for(&self, now: SystemTime) -> Option<Duration> {
        let (state, _) = self.collector.as_ref()?;
        let age = self.collector_age(now)?;
        (age > state.cadence * SILENT_AFTER_CADENCES).then_some(age)
    }

    /// The collector writes readings in a format newer than this console reads.
    pub fn collector_is_newer(&self) -> bool {
        self.collector.as_ref().is_some_and(|(state, _)| {
            i64::from(state.format) > i64::from(crate::sources::stored::FORMAT)
        })
    }

    /// Takes in one event other than fleet changes (those go to the fleet).
    pub fn event(&mut self, event: RoomEvent, now: SystemTime) {
        match event {
            RoomEvent::Changes(_) => {}
            RoomEvent::Collector(state) => {
                self.trouble = None;
                self.no_collector = state.is_none();
                self.collector = state.map(|s| (s, now));
            }
            RoomEvent::Present(present) => {
                self.trouble = None;
                self.present = present;
            }
            RoomEvent::Actions(records) => {
                self.trouble = None;
                for record in records {
                    self.record(&record);
                }
            }
            RoomEvent::Trouble(e) => {
                if self.trouble.as_ref() != Some(&e) {
                    tracing::warn!(error = %e, "the live room cannot reach the ops store");
                }
                self.trouble = Some(e);
            }
        }
    }

    fn record(&mut self, record: &AuditRecord) {
        let line = action_line(record);
        match self
            .actions
            .iter_mut()
            .find(|l| l.action_id == line.action_id)
        {
            Some(existing) => *existing = line,
            None => self.actions.push_back(line),
        }
        while self.actions.len() > ACTIONS_SHOWN {
            self.actions.pop_front();
        }
    }
}

/// `alex on-call: cancel query postgres/primary pid 48213 → ok`.
pub fn action_line(record: &AuditRecord) -> ActionLine {
    let who = record
        .tailscale_login
        .as_deref()
        .map_or(record.operator.as_str(), |login| {
            login.split('@').next().unwrap_or(login)
        });
    let role = if record.role == "oncall" {
        "on-call"
    } else {
        record.role.as_str()
    };
    let (ending, level) = match (record.phase, record.outcome) {
        (Phase::Outcome, Some(outcome)) => (
            outcome.word(),
            match outcome {
                crate::actions::Outcome::Ok => Level::Ok,
                crate::actions::Outcome::Refused => Level::Warn,
                _ => Level::Crit,
            },
        ),
        _ => ("…", Level::Unknown),
    };
    ActionLine {
        action_id: record.action_id.clone(),
        text: format!(
            "{who} {role}: {} {} → {ending}",
            record.title.to_lowercase(),
            record.target
        ),
        level,
    }
}

/// How much of the room the header has space for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomDetail {
    /// Who is here by name, and which collector leads with its standby.
    Full,
    /// Who is here by name; the collector by its age only.
    Names,
    /// How many are here; the collector by its age only.
    Short,
}

/// The room's part of the header: the collector's state first (a silent one makes
/// everything else stale), then who is here.
pub fn header_spans(ctx: &Ctx<'_>, detail: RoomDetail) -> Vec<Span<'static>> {
    let Some(room) = ctx.room else {
        return Vec::new();
    };
    let theme = ctx.theme;
    let mut spans = Vec::new();
    if room.watching {
        spans.push(Span::styled(" WATCHING ", theme.style(Token::Accent)));
        spans.push(Span::raw(" "));
    }
    if let Some(silent) = room.silent_for(ctx.now) {
        spans.push(Span::styled(
            format!(" collector silent for {} s ", silent.as_secs()),
            theme.style(Token::Crit),
        ));
        spans.push(Span::raw(" "));
        if detail == RoomDetail::Full
            && let Some((state, _)) = &room.collector
        {
            spans.push(safe_owned(
                format!("{} ", collector_words(state)),
                theme.style(Token::Muted),
            ));
        }
    } else if room.watching
        && let Some((state, _)) = &room.collector
        && let Some(age) = room.collector_age(ctx.now)
    {
        let text = if detail == RoomDetail::Full {
            format!("{} · {} s ago ", collector_words(state), age.as_secs())
        } else {
            format!("collector {} s ago ", age.as_secs())
        };
        spans.push(safe_owned(text, theme.style(Token::Muted)));
    } else if room.watching && room.no_collector {
        spans.push(Span::styled(
            " no collector has published ",
            theme.style(Token::Crit),
        ));
        spans.push(Span::raw(" "));
    }
    if room.collector_is_newer() {
        spans.push(Span::styled(
            " collector is newer ",
            theme.style(Token::Warn),
        ));
        spans.push(Span::raw(" "));
    }
    if room.trouble.is_some() {
        spans.push(Span::styled(
            " ops store trouble ",
            theme.style(Token::Warn),
        ));
        spans.push(Span::raw(" "));
    }
    if !room.present.is_empty() {
        let n = room.present.len();
        let text = if detail != RoomDetail::Short {
            let names: Vec<String> = room
                .present
                .iter()
                .map(|p| {
                    if p.role == "oncall" {
                        format!("{} (on-call)", p.who)
                    } else {
                        p.who.clone()
                    }
                })
                .collect();
            format!("{n} in room: {} ", names.join(", "))
        } else {
            let oncall = room.present.iter().filter(|p| p.role == "oncall").count();
            format!("{n} in room, {oncall} on-call ")
        };
        spans.push(safe_owned(text, theme.style(Token::Muted)));
    }
    spans
}

/// `collector c-1 pid 42 · standby c-2 pid 7`: who leads and whether anyone takes over.
fn collector_words(state: &CollectorState) -> String {
    let leader = crate::store::leadership::CollectorId {
        host: state.host.clone(),
        pid: state.pid,
    };
    match &state.standby {
        Some(standby) => format!("collector {leader} · standby {standby}"),
        None => format!("collector {leader} · no standby"),
    }
}

/// Width of the action stream beside the body.
pub const STRIP_WIDTH: u16 = 44;

/// Splits `body` for the action stream when there is one and room for it.
pub fn split(body: Rect, ctx: &Ctx<'_>) -> (Rect, Option<Rect>) {
    let shown = ctx.room.is_some_and(|r| !r.actions.is_empty());
    if !shown || body.width < STRIP_WIDTH * 2 + 10 {
        return (body, None);
    }
    let left = Rect {
        width: body.width - STRIP_WIDTH,
        ..body
    };
    let strip = Rect {
        x: body.x + body.width - STRIP_WIDTH,
        width: STRIP_WIDTH,
        ..body
    };
    (left, Some(strip))
}

/// The action stream, newest at the bottom, each line as the audit recorded it.
pub fn draw_strip(frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
    let Some(room) = ctx.room else { return };
    let theme = ctx.theme;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Border))
        .title(Span::styled(
            " actions in the room ",
            theme.style(Token::Title),
        ));
    let inner = block.inner(area);
    let rows = usize::from(inner.height);
    let skip = room.actions.len().saturating_sub(rows);
    let lines: Vec<Line<'static>> = room
        .actions
        .iter()
        .skip(skip)
        .map(|l| {
            let token = match l.level {
                Level::Ok => Token::Ok,
                Level::Warn => Token::Warn,
                Level::Crit => Token::Crit,
                Level::Unknown => Token::Text,
            };
            Line::from(safe_owned(l.text.clone(), theme.style(token)))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::Outcome;

    fn record(action: &str, phase: Phase, outcome: Option<Outcome>) -> AuditRecord {
        AuditRecord {
            id: format!("{action}-{phase:?}"),
            action_id: action.into(),
            time: "2026-01-01T00:00:00.000Z".into(),
            phase,
            operator: "alex".into(),
            tailscale_login: Some("alex@example.org".into()),
            console_host: "laptop".into(),
            console_id: "c".into(),
            role: "oncall".into(),
            kind: "postgres.cancel".into(),
            title: "Cancel".into(),
            target: "pid 48213".into(),
            target_key: "k".into(),
            risk: "low".into(),
            operations: Vec::new(),
            guards: Vec::new(),
            outcome,
            duration_ms: None,
            error: None,
            result: None,
            runbook: None,
        }
    }

    #[test]
    fn an_intent_is_replaced_by_its_outcome_and_the_stream_keeps_twenty() {
        let mut room = Room::default();
        let now = SystemTime::UNIX_EPOCH;
        room.event(
            RoomEvent::Actions(vec![record("a1", Phase::Intent, None)]),
            now,
        );
        assert_eq!(room.actions[0].text, "alex on-call: cancel pid 48213 → …");
        room.event(
            RoomEvent::Actions(vec![record("a1", Phase::Outcome, Some(Outcome::Failed))]),
            now,
        );
        assert_eq!(room.actions.len(), 1);
        assert_eq!(
            room.actions[0].text,
            "alex on-call: cancel pid 48213 → failed"
        );
        assert_eq!(room.actions[0].level, Level::Crit);
        let many = (0..30)
            .map(|i| record(&format!("b{i}"), Phase::Outcome, Some(Outcome::Ok)))
            .collect();
        room.event(RoomEvent::Actions(many), now);
        assert_eq!(room.actions.len(), ACTIONS_SHOWN);
        assert_eq!(
            room.actions.back().map(|l| l.action_id.as_str()),
            Some("b29")
        );
    }

    #[test]
    fn the_collector_is_silent_after_three_cadences_counting_time_since_the_read() {
        let read = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let mut room = Room::watching();
        let state = CollectorState {
            host: "c".into(),
            pid: 42,
            format: 1,
            cadence: Duration::from_secs(2),
            age: Duration::from_secs(1),
            standby: None,
        };
        room.event(RoomEvent::Collector(Some(state)), read);
        assert_eq!(room.silent_for(read), None);
        assert_eq!(
            room.collector_age(read + Duration::from_secs(1)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(room.silent_for(read + Duration::from_secs(5)), None);
        assert_eq!(
            room.silent_for(read + Duration::from_secs(6)),
            Some(Duration::from_secs(7))
        );
    }
}
