//! The progress bar on stderr: steps done, draws per second and the time left.
//!
//! Silent with `--quiet` or when stderr is not a terminal (a log file or a pipe gets no
//! carriage-return noise).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use langevin::Progress;

/// Redraws at most this often.
const REDRAW: Duration = Duration::from_millis(200);
const WIDTH: usize = 30;

/// A one-line bar, redrawn in place.
pub struct Bar {
    enabled: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Bar {
    /// A bar that draws only on a terminal and without `quiet`.
    pub fn new(quiet: bool) -> Bar {
        Bar {
            enabled: !quiet && std::io::stderr().is_terminal(),
            last: None,
            drawn: false,
        }
    }

    /// Redraws for `p` (rate-limited; always at the last step).
    pub fn update(&mut self, p: &Progress) {
        let done = p.step >= p.steps;
        if !self.enabled || (!done && self.last.is_some_and(|t| t.elapsed() < REDRAW)) {
            return;
        }
        self.last = Some(Instant::now());
        // A closed stderr must not end the run: writes that fail are dropped.
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{}{}", line(p), if done { "\n" } else { "" });
        let _ = err.flush();
        self.drawn = !done;
    }
}

impl Drop for Bar {
    /// Leaves the terminal on a fresh line if the run stopped early (an error follows).
    fn drop(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}

/// `[=====>      ]  41% step 4100/10000, 1.2e4 draws/s, ETA 0:12`.
fn line(p: &Progress) -> String {
    let fraction = f64::from(p.step) / f64::from(p.steps.max(1));
    let filled = ((fraction * WIDTH as f64) as usize).min(WIDTH);
    let bar: String = (0..WIDTH)
        .map(|i| match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        })
        .collect();
    let seconds = p.elapsed.as_secs_f64().max(1e-9);
    let ran = f64::from(p.step - p.start_step);
    let left = f64::from(p.steps - p.step);
    let eta = if ran > 0.0 {
        clock(left * seconds / ran)
    } else {
        "?".to_owned()
    };
    format!(
        "[{bar}] {:>3.0}% step {}/{}, {:.2e} draws/s, ETA {eta}   ",
        fraction * 100.0,
        p.step,
        p.steps,
        p.delivered as f64 / seconds,
    )
}

/// `h:mm:ss` or `m:ss`.
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_progress_rate_and_time_left() {
        let p = Progress {
            step: 250,
            steps: 1000,
            delivered: 100,
            draws: 400,
            elapsed: Duration::from_secs(10),
            start_step: 0,
        };
        let text = line(&p);
        assert!(text.contains(" 25% step 250/1000"), "{text}");
        assert!(text.contains("1.00e1 draws/s"), "{text}");
        assert!(text.contains("ETA 0:30"), "{text}");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
