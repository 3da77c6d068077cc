//! Command output that behaves like a Unix tool's: when the reader goes away (`mastop
//! check | head -1`), the rest is dropped quietly instead of panicking, and the command
//! still finishes what it was doing (an action half-way through is never cut short by a
//! closed pipe). Every message ends with a newline.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Machine output: tables, JSON, reports.
    Out,
    /// Diagnostics: errors, warnings, progress meant for a person.
    Err,
}

/// Writes `text` to `stream`, adding the final newline when `line` asks for one and the
/// text lacks it. A closed stream is remembered, and later writes to it are dropped.
pub fn write(stream: Stream, text: &str, line: bool) {
    let closed = match stream {
        Stream::Out => &STDOUT_CLOSED,
        Stream::Err => &STDERR_CLOSED,
    };
    if closed.load(Ordering::Relaxed) {
        return;
    }
    let result = match stream {
        Stream::Out => emit(&mut std::io::stdout().lock(), text, line),
        Stream::Err => emit(&mut std::io::stderr().lock(), text, line),
    };
    if result.is_err() {
        // A broken pipe, a full disk or a revoked terminal: there is no one left to tell.
        closed.store(true, Ordering::Relaxed);
    }
}

fn emit(w: &mut impl Write, text: &str, line: bool) -> std::io::Result<()> {
    w.write_all(text.as_bytes())?;
    if line && !text.ends_with('\n') {
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Whether standard output was closed by its reader.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `println!` that never panics on a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::write($crate::output::Stream::Out, "", true) };
    ($($arg:tt)*) => { $crate::output::write($crate::output::Stream::Out, &format!($($arg)*), true) };
}

/// `print!` that never panics on a closed pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write($crate::output::Stream::Out, &format!($($arg)*), false) };
}

/// `eprintln!` that never panics on a closed stream, and always ends the line.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::write($crate::output::Stream::Err, &format!($($arg)*), true) };
}

/// `eprint!` for a prompt that the operator answers on the same line.
#[macro_export]
macro_rules! err {
    ($($arg:tt)*) => { $crate::output::write($crate::output::Stream::Err, &format!($($arg)*), false) };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Closed;
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_writer_is_an_error_not_a_panic() {
        assert!(emit(&mut Closed, "x", true).is_err());
    }

    #[test]
    fn a_line_gets_exactly_one_newline() {
        let mut buf = Vec::new();
        emit(&mut buf, "a", true).unwrap();
        emit(&mut buf, "b\n", true).unwrap();
        assert_eq!(buf, b"a\nb\n");
    }
}
