//! What `airlock pregen` says about a job: the one-line status its progress
//! bar (or plain progress line) carries, and the summary table printed when
//! the job has ended.

use std::fmt::Write;
use std::time::Duration;

use super::api::{JobProgress, JobState};

/// Failed items listed in the summary; the rest are counted.
const FAILURES_LISTED: usize = 20;

/// The status after `ended/total`: elapsed time, pace, spend, ETA and
/// failures so far, e.g. `3.2s, 4.0 items/s, $0.0120, ETA 5s, 1 failed`.
pub fn status(progress: &JobProgress, elapsed: Duration) -> String {
    if progress.state == JobState::Queued {
        return format!("{}, queued", human_duration(elapsed));
    }
    let seconds = elapsed.as_secs_f64();
    let pace = if seconds > 0.0 {
        progress.ended() as f64 / seconds
    } else {
        0.0
    };
    let mut line = format!(
        "{}, {pace:.1} items/s, ${:.4}",
        human_duration(elapsed),
        progress.spend_usd
    );
    if let Some(eta) = progress
        .eta_secs
        .filter(|eta| eta.is_finite() && *eta >= 0.0)
    {
        let _ = write!(
            line,
            ", ETA {}",
            human_duration(Duration::from_secs_f64(eta))
        );
    }
    if progress.failed > 0 {
        let _ = write!(line, ", {} failed", progress.failed);
    }
    line
}

/// The table printed when the job has ended: its counts, spend and run
/// time, why it stopped, and the first failed items.
pub fn table(progress: &JobProgress, elapsed: Duration) -> String {
    let mut rows = vec![
        ("job", progress.id.clone()),
        (
            "project",
            progress.project.clone().unwrap_or_else(|| "-".into()),
        ),
        ("state", progress.state.name().to_string()),
        ("total", progress.total.to_string()),
        ("done", progress.done.to_string()),
        ("failed", progress.failed.to_string()),
        ("spend", format!("${:.4}", progress.spend_usd)),
        ("elapsed", human_duration(elapsed)),
    ];
    if let Some(reason) = &progress.stop_reason {
        rows.push(("stop reason", reason.clone()));
    }
    let mut out = String::new();
    for (name, value) in rows {
        let _ = writeln!(out, "{name:<12} {value}");
    }
    if progress.failures.is_empty() {
        return out;
    }
    let listed = &progress.failures[..progress.failures.len().min(FAILURES_LISTED)];
    let lines: Vec<String> = listed.iter().map(|f| f.line.to_string()).collect();
    let ids: Vec<&str> = listed
        .iter()
        .map(|f| f.custom_id.as_deref().unwrap_or("-"))
        .collect();
    let line_width = lines.iter().map(String::len).chain([4]).max().unwrap_or(4);
    let id_width = ids.iter().map(|id| id.len()).chain([9]).max().unwrap_or(9);
    let _ = writeln!(out, "\nfailures:");
    let _ = writeln!(
        out,
        "{:<line_width$}  {:<id_width$}  error",
        "line", "custom_id"
    );
    for ((line, id), failure) in lines.iter().zip(&ids).zip(listed) {
        let _ = writeln!(
            out,
            "{line:<line_width$}  {id:<id_width$}  {}",
            failure.error
        );
    }
    let more = progress.failed.saturating_sub(listed.len() as u64);
    if more > 0 {
        let _ = writeln!(out, "and {more} more");
    }
    out
}

/// `850ms`, `5s`, `3.2s`, `2m 05s`, `1h 02m`.
pub fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 if duration.is_zero() => "0s".to_string(),
        0 => format!("{}ms", duration.as_millis()),
        1..60 if duration.subsec_millis() == 0 => format!("{seconds}s"),
        1..60 => format!("{:.1}s", duration.as_secs_f64()),
        60..3600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pregen::api::ItemFailure;

    fn progress(state: JobState, done: u64, failed: u64) -> JobProgress {
        JobProgress {
            id: "job_1".into(),
            project: Some("story".into()),
            state,
            total: 30,
            done,
            failed,
            spend_usd: 0.012_345,
            eta_secs: Some(5.0),
            stop_reason: None,
            started_at_ms: Some(0),
            finished_at_ms: None,
            failures: (0..failed)
                .map(|i| ItemFailure {
                    line: i + 2,
                    custom_id: (i % 2 == 0).then(|| format!("scene-{i}")),
                    error: format!("error {i}"),
                })
                .collect(),
        }
    }

    /// The value in the row whose first word is `name`.
    fn row<'a>(table: &'a str, name: &str) -> Option<&'a str> {
        table
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
    }

    #[test]
    fn the_status_has_elapsed_time_pace_spend_eta_and_failures() {
        let line = status(&progress(JobState::Running, 11, 1), Duration::from_secs(3));
        assert_eq!(line, "3s, 4.0 items/s, $0.0123, ETA 5s, 1 failed");
        let mut unknown = progress(JobState::Running, 0, 0);
        unknown.eta_secs = None;
        assert_eq!(status(&unknown, Duration::ZERO), "0s, 0.0 items/s, $0.0123");
        assert_eq!(
            status(
                &progress(JobState::Queued, 0, 0),
                Duration::from_millis(250)
            ),
            "250ms, queued"
        );
    }

    #[test]
    fn the_table_has_the_counts_spend_and_each_failure() {
        let table = table(
            &progress(JobState::Completed, 27, 3),
            Duration::from_secs(75),
        );
        assert_eq!(row(&table, "job"), Some("job_1"));
        assert_eq!(row(&table, "state"), Some("completed"));
        assert_eq!(row(&table, "total"), Some("30"));
        assert_eq!(row(&table, "done"), Some("27"));
        assert_eq!(row(&table, "failed"), Some("3"));
        assert_eq!(row(&table, "spend"), Some("$0.0123"));
        assert_eq!(row(&table, "elapsed"), Some("1m 15s"));
        assert_eq!(row(&table, "stop reason"), None);
        assert!(table.contains("\nline  custom_id  error\n"), "{table}");
        assert!(table.contains("\n2     scene-0    error 0\n"), "{table}");
        assert!(table.contains("\n3     -          error 1\n"), "{table}");
        assert!(!table.contains("more"), "{table}");
    }

    #[test]
    fn a_stopped_job_says_why() {
        let mut stopped = progress(JobState::Stopped, 4, 0);
        stopped.stop_reason = Some("the project's budget is spent".into());
        let table = table(&stopped, Duration::from_secs(2));
        assert_eq!(row(&table, "state"), Some("stopped"));
        assert_eq!(
            row(&table, "stop reason"),
            Some("the project's budget is spent")
        );
        assert!(!table.contains("failures:"), "{table}");
    }

    #[test]
    fn failures_past_twenty_are_counted_not_listed() {
        let mut many = progress(JobState::Completed, 0, 25);
        // The API lists the first hundred; the count is the whole.
        many.failed = 130;
        let table = table(&many, Duration::from_secs(1));
        assert!(table.contains("error 19\n"), "{table}");
        assert!(!table.contains("error 20\n"), "{table}");
        assert!(table.ends_with("and 110 more\n"), "{table}");
    }

    #[test]
    fn durations_are_shown_in_the_unit_that_reads_best() {
        assert_eq!(human_duration(Duration::ZERO), "0s");
        assert_eq!(human_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(human_duration(Duration::from_secs(5)), "5s");
        assert_eq!(human_duration(Duration::from_millis(3_240)), "3.2s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m 05s");
        assert_eq!(human_duration(Duration::from_secs(3_720)), "1h 02m");
    }
}
