//! Watching a job until it ends: its progress is read every 250 ms and
//! drawn as a live bar on a terminal, or written as a plain line once a
//! second when standard error is not one (so logs still show progress).
//! Ctrl-C stops the watching, not the job.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::api::{AdminClient, ApiError, JobProgress};
use super::summary;

/// How often the job's progress is read.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How often a plain progress line is written.
const LINE_INTERVAL: Duration = Duration::from_secs(1);
/// The bar, as wide as the terminal leaves room for:
/// `[=====>    ] 12/30 3.2s, 4.0 items/s, $0.0120, ETA 5s`.
const BAR_TEMPLATE: &str = "[{wide_bar}] {pos}/{len} {msg}";

/// How the watching ended.
pub enum Watched {
    /// The job completed, stopped or was cancelled: its last progress.
    Ended(JobProgress),
    /// Ctrl-C: the job goes on.
    Interrupted,
}

/// Reads the job's progress until it ends or Ctrl-C, showing each reading.
/// `started` is when the job was submitted.
pub async fn until_ended(
    client: &AdminClient,
    first: JobProgress,
    started: Instant,
) -> Result<Watched, ApiError> {
    let mut view = View::new(first.total);
    let mut progress = first;
    view.show(&progress, started.elapsed());
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    while !progress.state.is_final() {
        let next = async {
            tokio::time::sleep(POLL_INTERVAL).await;
            client.progress(&progress.id).await
        };
        tokio::select! {
            // An error installing the handler disables this branch: the
            // default Ctrl-C (ending the process) still leaves the job running.
            Ok(()) = &mut interrupted => {
                view.interrupted();
                return Ok(Watched::Interrupted);
            }
            read = next => match read {
                Ok(read) => progress = read,
                Err(error) => {
                    view.abandon();
                    return Err(error);
                }
            },
        }
        view.show(&progress, started.elapsed());
    }
    view.finish(&progress, started.elapsed());
    Ok(Watched::Ended(progress))
}

/// Where progress is shown.
enum View {
    /// A live bar on standard error, a terminal.
    Bar(ProgressBar),
    /// Plain lines on standard error, at most one per [`LINE_INTERVAL`]; when
    /// the last was written.
    Lines(Option<Instant>),
}

impl View {
    fn new(total: u64) -> View {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if bar.is_hidden() {
            return View::Lines(None);
        }
        // The template is a constant; a mistake in it keeps the default style.
        if let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE) {
            bar.set_style(style.progress_chars("=> "));
        }
        View::Bar(bar)
    }

    /// Shows a reading; a plain line only once [`LINE_INTERVAL`] has passed.
    fn show(&mut self, progress: &JobProgress, elapsed: Duration) {
        match self {
            View::Bar(bar) => draw(bar, progress, elapsed),
            View::Lines(last) => {
                if last.is_none_or(|last| last.elapsed() >= LINE_INTERVAL) {
                    write_line(progress, elapsed);
                    *last = Some(Instant::now());
                }
            }
        }
    }

    /// Shows the last reading, and leaves the bar drawn.
    fn finish(&self, progress: &JobProgress, elapsed: Duration) {
        match self {
            View::Bar(bar) => {
                draw(bar, progress, elapsed);
                self.abandon();
            }
            View::Lines(_) => write_line(progress, elapsed),
        }
    }

    /// Leaves the bar as the terminal shows it: its `^C` echo has already
    /// moved the cursor past the bar, where a redraw would repeat it.
    fn interrupted(&self) {
        if let View::Bar(bar) = self {
            bar.set_draw_target(ProgressDrawTarget::hidden());
            bar.abandon();
            eprintln!();
        }
    }

    /// Leaves the bar drawn as it is (`finish` would fill it), and ends its
    /// line so what follows is written below it.
    fn abandon(&self) {
        if let View::Bar(bar) = self {
            bar.abandon();
            // The bar's line is padded to the terminal's width, leaving the
            // cursor at its end: the newline moves to the next line.
            eprintln!();
        }
    }
}

/// Moves the bar to a reading.
fn draw(bar: &ProgressBar, progress: &JobProgress, elapsed: Duration) {
    if bar.length() != Some(progress.total) {
        bar.set_length(progress.total);
    }
    // The position last: its frame then shows the new message too.
    bar.set_message(summary::status(progress, elapsed));
    bar.set_position(progress.ended());
}

/// A plain progress line: `airlock: 12/30 3.2s, 4.0 items/s, $0.0120, ETA 5s`.
fn write_line(progress: &JobProgress, elapsed: Duration) {
    eprintln!(
        "airlock: {}/{} {}",
        progress.ended(),
        progress.total,
        summary::status(progress, elapsed)
    );
}
