//! The top line (what mastop is connected to, fleet health, the time) and the view tabs.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};

use crate::actions::Role;
use crate::model::Level;
use crate::tui::component::{Ctx, View, tabs};
use crate::tui::room::RoomDetail;
use crate::tui::theme::Token;
use crate::tui::widgets::level_span;

pub fn draw(frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    let clock = humantime::format_rfc3339_seconds(ctx.now).to_string();
    let clock = format!("{} UTC ", clock.get(11..19).unwrap_or(""));
    let room = usize::from(area.width).saturating_sub(clock.len() + 1);
    // Drop detail from the left as the terminal narrows: who leads the room first, then the
    // demo's explanation, then the tally, then the names in the room and the freeze's
    // reason. The role, the collector's age and the fleet's health always stay.
    let left = [
        (true, true, true, RoomDetail::Full),
        (true, true, true, RoomDetail::Names),
        (false, true, true, RoomDetail::Names),
        (false, true, false, RoomDetail::Names),
        (false, true, false, RoomDetail::Short),
        (false, false, false, RoomDetail::Short),
    ]
    .into_iter()
    .map(|(demo_long, freeze_long, tally, room)| {
        header_spans(ctx, demo_long, freeze_long, tally, room)
    })
    .find(|spans| Line::from(spans.clone()).width() <= room)
    .unwrap_or_else(|| header_spans(ctx, false, false, false, RoomDetail::Short));
    frame.render_widget(Line::from(left), area);
    if usize::from(area.width) > clock.len() + 30 {
        frame.render_widget(
            Line::from(Span::styled(clock, theme.style(Token::Muted))).alignment(Alignment::Right),
            area,
        );
    }
}

fn header_spans(
    ctx: &Ctx<'_>,
    long_banner: bool,
    freeze_long: bool,
    with_tally: bool,
    room: RoomDetail,
) -> Vec<Span<'static>> {
    let theme = ctx.theme;
    let mut left = vec![Span::styled(" mastop ", theme.style(Token::Title))];
    // The role is always on screen: a volunteer must never wonder whether a key could act.
    match ctx.role {
        Role::Oncall => left.push(Span::styled(" ON-CALL ", theme.style(Token::Accent))),
        Role::Shadow => left.push(Span::styled(
            if long_banner {
                " SHADOW · read-only "
            } else {
                " SHADOW "
            },
            theme.style(Token::Muted),
        )),
    }
    left.push(Span::raw(" "));
    // Who the tailnet says is at the keys, as audit records will name them; dropped
    // before the role or the fleet's health when the terminal is narrow.
    if freeze_long && let Some(login) = ctx.identity {
        left.push(crate::tui::widgets::safe_owned(
            format!("{login} "),
            theme.style(Token::Muted),
        ));
    }
    if let Some(freeze) = ctx.freeze {
        let text = if freeze_long {
            format!(" FROZEN by {}: {} ", freeze.by, freeze.reason)
        } else {
            " FROZEN ".to_string()
        };
        left.push(crate::tui::widgets::safe_owned(
            text,
            theme.style(Token::Crit),
        ));
        left.push(Span::raw(" "));
    }
    if ctx.demo.is_some() {
        let banner = if long_banner {
            " DEMO · simulated fleet, nothing here is real "
        } else {
            " DEMO "
        };
        left.push(Span::styled(banner, theme.style(Token::DemoBanner)));
        left.push(Span::raw(" "));
    }
    left.extend(crate::tui::room::header_spans(ctx, room));
    left.push(Span::styled("fleet ", theme.style(Token::Muted)));
    left.push(level_span(ctx.fleet.worst(), theme));
    if !with_tally {
        return left;
    }
    let counts = |level: Level| {
        ctx.fleet
            .components()
            .iter()
            .filter(|c| c.health.level == level)
            .count()
    };
    let tally: Vec<String> = [
        (Level::Crit, "crit"),
        (Level::Warn, "warn"),
        (Level::Unknown, "unknown"),
    ]
    .into_iter()
    .map(|(level, word)| (counts(level), word))
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| format!("{n} {word}"))
    .collect();
    if !tally.is_empty() {
        left.push(Span::styled(
            format!(" ({})", tally.join(", ")),
            theme.style(Token::Muted),
        ));
    }
    left
}

pub fn draw_tabs(frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    let current = match ctx.view {
        View::Detail(id) => ctx
            .fleet
            .get(id)
            .map_or(View::Overview, |c| View::Kind(c.meta.kind)),
        v => v.clone(),
    };
    let mut spans = vec![Span::raw(" ")];
    for (i, tab) in tabs(ctx.fleet).iter().enumerate() {
        let name = match tab {
            View::Overview => "overview".to_string(),
            View::Kind(kind) => {
                let worst = ctx
                    .fleet
                    .components()
                    .iter()
                    .filter(|c| c.meta.kind == *kind)
                    .map(|c| c.health.level)
                    .max()
                    .unwrap_or(Level::Ok);
                if worst == Level::Ok {
                    (*kind).to_string()
                } else {
                    format!("{kind} {}", worst.symbol())
                }
            }
            View::Detail(_) | View::Audit | View::Handoff | View::Fleet | View::Alerts => continue,
        };
        let style = if *tab == current {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Text)
        };
        if i < 9 {
            spans.push(Span::styled(
                format!("{}", i + 1),
                theme.style(Token::KeyHint),
            ));
        }
        spans.push(Span::styled(format!(" {name} "), style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Line::from(spans), area);
}
