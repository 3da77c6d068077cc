//! Entering and leaving the terminal's raw, full-screen mode, and suspending to the shell.
//! Restoring is idempotent so every exit path (quit, error, panic, signal) may call it.

use std::io::{self, Write};

use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::DefaultTerminal;

/// Raw mode, alternate screen, and a panic hook that restores the terminal before the
/// panic message is printed (so it is readable and the shell is usable).
pub fn enter() -> io::Result<DefaultTerminal> {
    ratatui::try_init()
}

/// Raw mode off, the normal screen back, and the cursor visible: `ratatui::restore` leaves
/// it hidden, and a shell prompt without a cursor (after ctrl-z, before the terminal handle
/// is dropped) looks like a hung terminal.
pub fn leave() {
    ratatui::restore();
    let _ = execute!(io::stdout(), cursor::Show);
}

/// ctrl-z: give the terminal back, stop the process as the shell expects, and take the
/// terminal again when `fg` resumes it.
pub fn suspend(terminal: &mut DefaultTerminal) -> io::Result<()> {
    leave();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP).map_err(io::Error::other)?;
    // Execution continues here after SIGCONT.
    enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen, cursor::Hide)?;
    out.flush()?;
    repaint(terminal)
}

/// Clears the screen and makes the next draw repaint every cell.
///
/// `Terminal::clear` would ask the terminal for the cursor position, and that answer never
/// arrives while the event stream owns standard input (it times out after two seconds and
/// fails). A full-screen viewport does not need the cursor, so clear directly and blank both
/// of ratatui's buffers instead: the next frame is then diffed against an empty screen.
pub fn repaint(terminal: &mut DefaultTerminal) -> io::Result<()> {
    execute!(io::stdout(), Clear(ClearType::All))?;
    terminal.swap_buffers();
    Ok(())
}

/// Leaves the alternate screen without touching raw mode, for error paths that have no
/// terminal handle.
pub fn emergency_restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}
