//! Printing that survives a closed pipe: `langevin sample … | head -2` must still write the
//! run's files and exit as it would have, so text to a reader that has gone is dropped instead
//! of panicking (Rust ignores SIGPIPE, so a closed stdout is an error on the next write).

use std::io::Write;

/// Writes one line to stdout; a write that fails (the reader closed the pipe) is dropped.
pub(crate) fn line(text: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(text).and_then(|()| out.write_all(b"\n"));
}

/// Writes text to stdout without a newline; failures are dropped as by [`line`].
pub(crate) fn text(text: std::fmt::Arguments<'_>) {
    let _ = std::io::stdout().lock().write_fmt(text);
}

/// Writes one line to stderr; failures are dropped (there is nowhere left to report them).
pub(crate) fn error_line(text: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(text).and_then(|()| err.write_all(b"\n"));
}

/// `println!` that cannot panic.
macro_rules! say {
    ($($arg:tt)*) => { $crate::console::line(format_args!($($arg)*)) };
}

/// `print!` that cannot panic.
macro_rules! say_text {
    ($($arg:tt)*) => { $crate::console::text(format_args!($($arg)*)) };
}

/// `eprintln!` that cannot panic.
macro_rules! note {
    ($($arg:tt)*) => { $crate::console::error_line(format_args!($($arg)*)) };
}

pub(crate) use {note, say, say_text};
