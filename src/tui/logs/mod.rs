//! The log view: one or more units' journal on a host or across a role's hosts, merged by
//! time, private by default. It owns the lines (a capped [`LogBuffer`]), the filter, the
//! scroll position and the display toggles; the reading itself is background work the
//! event loop carries out ([`LogWork`]) and streams back in batches ([`LogsView::receive`]).
//!
//! Following autoscrolls until the operator scrolls up; from then the view stays where it
//! is and counts what arrived and what the cap threw away, until `end` resumes it.

pub mod draw;
pub mod save;
pub mod target;

use std::collections::VecDeque;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::command::Command;
use super::component::{Component, Ctx, Effect};
use super::line_edit::LineEditor;
use crate::actions::Role;
use crate::engine::logs::{LogEvent, LogRead};
use crate::logs::buffer::{DEFAULT_RING_LINES, LineFilter, LogBuffer};
use crate::logs::query::Window;
use crate::logs::signatures::Signatures;
use crate::logs::{LogLine, format_time};
use crate::model::Level;
use target::LogTarget;

/// Background work of a log view, carried out by the event loop.
#[derive(Clone, Debug, PartialEq)]
pub enum LogWork {
    /// Read (and maybe follow) `read`, stopping any read before it; batches come back
    /// tagged with `generation` so that a stale read's lines are never shown.
    Read { generation: u64, read: LogRead },
    /// Stop reading: the view closed or stopped following.
    Stop,
    /// Write what the view shows (already redacted) to a file named after `stem`.
    Save {
        stem: String,
        text: String,
        lines: usize,
    },
}

/// The status line's hints while the view is open: its own keys are in its footer.
pub const HINTS: &[super::component::Hint] =
    &[(Command::Help, "help"), (Command::Palette, "command")];

/// Problems from hosts shown at once, at most.
const NOTES: usize = 3;
/// Rows a page key moves.
const PAGE: usize = 20;

/// The console's one log view slot: what every view it opens is built with, and the view
/// while it is open.
#[derive(Debug)]
pub struct LogsPane {
    pub ring_lines: usize,
    pub signatures: Signatures,
    pub view: Option<LogsView>,
    generation: u64,
}

impl Default for LogsPane {
    fn default() -> Self {
        LogsPane {
            ring_lines: DEFAULT_RING_LINES,
            signatures: Signatures::shipped(),
            view: None,
            generation: 0,
        }
    }
}

impl LogsPane {
    /// Opens a view of `target` (replacing any open one) and asks for its lines.
    pub fn open(&mut self, target: LogTarget) -> Effect {
        self.generation += 1;
        let mut view = LogsView::new(target, self.ring_lines, self.signatures.clone());
        view.generation = self.generation;
        let effect = view.restart();
        self.view = Some(view);
        effect
    }

    /// Opens the view for `target` or says why not.
    pub fn open_or_explain(&mut self, target: Result<LogTarget, String>) -> Effect {
        match target {
            Ok(t) => self.open(t),
            Err(e) => Effect::Flash(e, Level::Warn),
        }
    }

    pub fn is_open(&self) -> bool {
        self.view.is_some()
    }

    pub fn wants_text(&self) -> bool {
        self.view.as_ref().is_some_and(LogsView::wants_text)
    }

    /// A key for the open view; closing it stops its reading.
    pub fn key(&mut self, command: Option<Command>, key: &KeyEvent, ctx: &Ctx<'_>) -> Effect {
        let Some(view) = self.view.as_mut() else {
            return Effect::Unhandled;
        };
        let effect = match command {
            Some(c) => view.key(c, ctx),
            None if view.wants_text() => view.text(key, ctx),
            None => Effect::None,
        };
        match effect {
            Effect::Close => {
                self.view = None;
                Effect::Logs(LogWork::Stop)
            }
            other => other,
        }
    }

    /// A batch from the reading tagged `generation`.
    pub fn receive(&mut self, generation: u64, event: LogEvent) {
        if let Some(view) = self.view.as_mut() {
            view.receive(generation, event);
        }
    }
}

/// One open log view.
#[derive(Debug)]
pub struct LogsView {
    pub target: LogTarget,
    pub buffer: LogBuffer,
    signatures: Signatures,
    generation: u64,
    pub following: bool,
    /// Still waiting for the first answer.
    pub loading: bool,
    pub wrap: bool,
    pub timestamps: bool,
    filter: Option<LineFilter>,
    /// The `/` line while it is being typed, and the filter to go back to on cancel.
    editing: Option<(LineEditor, Option<LineFilter>)>,
    filter_error: Option<String>,
    /// Kept lines between the bottom of the screen and the newest line; 0 follows.
    pub scroll: usize,
    /// Kept lines that arrived since the operator scrolled up.
    pub new_while_paused: u64,
    /// The buffer's dropped count when the operator scrolled up.
    dropped_at_pause: u64,
    /// Lines that were not the reader's format, counted, never shown.
    pub unreadable: usize,
    notes: VecDeque<String>,
}

impl LogsView {
    pub fn new(target: LogTarget, ring_lines: usize, signatures: Signatures) -> LogsView {
        LogsView {
            target,
            buffer: LogBuffer::new(ring_lines),
            signatures,
            generation: 0,
            following: true,
            loading: true,
            wrap: false,
            timestamps: true,
            filter: None,
            editing: None,
            filter_error: None,
            scroll: 0,
            new_while_paused: 0,
            dropped_at_pause: 0,
            unreadable: 0,
            notes: VecDeque::new(),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn window(&self) -> Window {
        self.target.window
    }

    pub fn paused(&self) -> bool {
        self.scroll > 0
    }

    /// Lines the cap dropped since the operator scrolled up.
    pub fn dropped_while_paused(&self) -> u64 {
        if self.paused() {
            self.buffer.dropped() - self.dropped_at_pause
        } else {
            0
        }
    }

    pub fn filter_text(&self) -> Option<&str> {
        self.filter.as_ref().map(|f| f.text.as_str())
    }

    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.notes.iter().map(String::as_str)
    }

    /// Starts over: an empty buffer and a new read of the window (following or not).
    fn restart(&mut self) -> Effect {
        self.generation += 1;
        self.buffer.clear();
        self.loading = true;
        self.scroll = 0;
        self.new_while_paused = 0;
        self.dropped_at_pause = 0;
        self.unreadable = 0;
        self.notes.clear();
        Effect::Logs(LogWork::Read {
            generation: self.generation,
            read: LogRead {
                target: self.target.hosts.clone(),
                units: self.target.units.clone(),
                window: self.target.window,
                max_lines: self.buffer.capacity(),
                follow: self.following,
            },
        })
    }

    /// A batch from the reading; a stale read's batches are ignored.
    pub fn receive(&mut self, generation: u64, event: LogEvent) {
        if generation != self.generation {
            return;
        }
        match event {
            LogEvent::Lines {
                lines,
                unreadable,
                dropped,
            } => {
                self.loading = false;
                self.unreadable += unreadable;
                // Lines the reader dropped while the console was behind are dropped lines
                // like those the cap drops: counted, and said while paused.
                self.buffer.dropped_before(dropped);
                self.add(lines);
            }
            LogEvent::Failed(why) => self.note(why),
            LogEvent::Ended(why) => {
                self.loading = false;
                if self.following {
                    self.following = false;
                    self.note(why);
                }
            }
        }
    }

    /// Lines into the buffer; while paused, the view stays on the lines it shows.
    pub fn add(&mut self, lines: Vec<LogLine>) {
        if self.paused() {
            let kept = lines.iter().filter(|l| self.keeps(l)).count();
            self.scroll += kept;
            self.new_while_paused += kept as u64;
        }
        self.buffer.extend(lines, &self.signatures);
    }

    fn note(&mut self, why: String) {
        if self.notes.len() == NOTES {
            self.notes.pop_front();
        }
        self.notes
            .push_back(crate::sanitize::sanitize_truncated(&why, 300));
    }

    fn keeps(&self, line: &LogLine) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.keeps(&line.shown(false)))
    }

    /// The kept lines from the bottom of the screen up, newest first, at most `n`.
    pub fn visible(&self, n: usize) -> Vec<&LogLine> {
        self.visible_from(self.scroll, n)
    }

    /// Like [`LogsView::visible`], `skip` kept lines up from the newest.
    pub fn visible_from(&self, skip: usize, n: usize) -> Vec<&LogLine> {
        self.buffer
            .lines()
            .iter()
            .rev()
            .filter(|l| self.keeps(l))
            .skip(skip)
            .take(n)
            .collect()
    }

    /// The line at the bottom of the screen: the one a reveal is about.
    pub fn selected(&self) -> Option<&LogLine> {
        self.visible(1).into_iter().next()
    }

    /// Every kept line, redacted, as a file holds it.
    pub fn shown_text(&self) -> (String, usize) {
        let mut text = String::new();
        let mut n = 0;
        for line in self.buffer.lines().iter().filter(|l| self.keeps(l)) {
            let priority = line.priority.map_or("-", |p| p.name());
            text.push_str(&format!(
                "{} {} {} {priority} {}\n",
                format_time(line.at_us),
                crate::sanitize::sanitize(&line.host),
                crate::sanitize::sanitize(&line.unit),
                line.shown(false)
            ));
            n += 1;
        }
        (text, n)
    }

    fn scroll_by(&mut self, delta: isize) {
        let was_paused = self.paused();
        let max = self.buffer.len().saturating_sub(1);
        self.scroll = self.scroll.saturating_add_signed(delta).min(max);
        if self.paused() && !was_paused {
            self.new_while_paused = 0;
            self.dropped_at_pause = self.buffer.dropped();
        }
        if !self.paused() {
            self.new_while_paused = 0;
        }
    }

    fn set_window(&mut self, window: Window) -> Effect {
        self.target.window = window;
        self.restart()
    }

    fn reveal(&self, ctx: &Ctx<'_>) -> Effect {
        let Some(line) = self.selected() else {
            return Effect::Flash("no line to reveal".into(), Level::Unknown);
        };
        Effect::Reveal {
            component: format!("logs/{}", crate::sanitize::sanitize(&line.host)),
            table: crate::sanitize::sanitize(&line.unit).into_owned(),
            key: format_time(line.at_us),
            // A shadow console is refused (and the attempt recorded) before content matters.
            content: (ctx.role == Role::Oncall).then(|| line.shown(true)),
        }
    }

    fn save(&self) -> Effect {
        let (text, lines) = self.shown_text();
        if lines == 0 {
            return Effect::Flash("nothing shown to save".into(), Level::Unknown);
        }
        let units: Vec<&str> = self
            .target
            .units
            .iter()
            .map(|u| u.as_str().trim_end_matches(".service"))
            .collect();
        Effect::Logs(LogWork::Save {
            stem: format!("{}-{}", self.target.hosts, units.join("+")),
            text,
            lines,
        })
    }

    fn filter_key(&mut self, command: Command) -> Effect {
        let Some((editor, previous)) = self.editing.take() else {
            return Effect::None;
        };
        match command {
            Command::Cancel => {
                self.filter = previous;
                self.filter_error = None;
            }
            Command::Confirm => match self.filter_error.take() {
                Some(e) => {
                    self.editing = Some((editor, previous));
                    self.filter_error = Some(e.clone());
                    return Effect::Flash(e, Level::Warn);
                }
                None => self.filter = parse_filter(editor.as_str()).ok().flatten(),
            },
            Command::Quit => {
                self.editing = Some((editor, previous));
                return Effect::Unhandled;
            }
            _ => self.editing = Some((editor, previous)),
        }
        self.scroll = 0;
        self.new_while_paused = 0;
        Effect::None
    }
}

/// The `/` line as a filter: `None` when empty.
fn parse_filter(text: &str) -> Result<Option<LineFilter>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    LineFilter::parse(text).map(Some)
}

impl Component for LogsView {
    fn key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect {
        if self.editing.is_some() {
            return self.filter_key(command);
        }
        match command {
            Command::Back | Command::Cancel => return Effect::Close,
            Command::Up => self.scroll_by(1),
            Command::Down => self.scroll_by(-1),
            Command::PageUp => self.scroll_by(PAGE as isize),
            Command::PageDown => self.scroll_by(-(PAGE as isize)),
            Command::HalfPageUp => self.scroll_by(PAGE as isize / 2),
            Command::HalfPageDown => self.scroll_by(-(PAGE as isize) / 2),
            Command::Top => self.scroll_by(isize::MAX),
            Command::Bottom => self.scroll_by(isize::MIN),
            Command::Follow => {
                if self.following {
                    self.following = false;
                    return Effect::Logs(LogWork::Stop);
                }
                self.following = true;
                return self.restart();
            }
            Command::Wrap => self.wrap = !self.wrap,
            Command::Timestamps => self.timestamps = !self.timestamps,
            Command::SinceTail => return self.set_window(Window::PRESETS[0]),
            Command::Since1m => return self.set_window(Window::PRESETS[1]),
            Command::Since5m => return self.set_window(Window::PRESETS[2]),
            Command::Since15m => return self.set_window(Window::PRESETS[3]),
            Command::Since1h => return self.set_window(Window::PRESETS[4]),
            Command::Filter => {
                let text = self.filter_text().unwrap_or_default();
                self.editing = Some((
                    LineEditor::with_text(text, super::line_edit::DEFAULT_LIMIT),
                    self.filter.clone(),
                ));
            }
            Command::Reveal => return self.reveal(ctx),
            Command::SaveLog => return self.save(),
            Command::Quit
            | Command::Help
            | Command::Palette
            | Command::Suspend
            | Command::Redraw => return Effect::Unhandled,
            _ => {}
        }
        Effect::None
    }

    fn wants_text(&self) -> bool {
        self.editing.is_some()
    }

    fn text(&mut self, key: &KeyEvent, _ctx: &Ctx<'_>) -> Effect {
        let Some((editor, _)) = self.editing.as_mut() else {
            return Effect::None;
        };
        if !editor.key(key) {
            return Effect::None;
        }
        // The filter applies as it is typed; a pattern that does not parse yet keeps the
        // last one that did.
        match parse_filter(editor.as_str()) {
            Ok(f) => {
                self.filter = f;
                self.filter_error = None;
                self.scroll = 0;
                self.new_while_paused = 0;
            }
            Err(e) => self.filter_error = Some(e),
        }
        Effect::None
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        draw::draw(self, frame, area, ctx);
    }
}

impl LogsView {
    /// The `/` line being typed, and why it does not parse, for drawing.
    pub fn editing(&self) -> Option<(&LineEditor, Option<&str>)> {
        self.editing
            .as_ref()
            .map(|(e, _)| (e, self.filter_error.as_deref()))
    }

    pub fn signatures(&self) -> &Signatures {
        &self.signatures
    }
}
