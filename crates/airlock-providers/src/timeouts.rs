//! How long a provider call may take, phase by phase: the connection, the
//! answer's first byte (its headers), each gap in a streamed body, and the
//! whole call. Each phase that runs out is a [`TimeoutKind`], so an error
//! can name the timeout that fired.

use std::fmt;
use std::time::Duration;

/// A provider's (or a route's) limits on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// DNS, TCP, a proxy's tunnel and TLS together.
    pub connect: Duration,
    /// From sending the request to the answer's headers.
    pub first_byte: Duration,
    /// The longest a streamed answer may send nothing.
    pub idle: Duration,
    /// The whole call, its body included; `None`: no limit.
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(300),
            total: None,
        }
    }
}

impl Timeouts {
    /// The defaults, with `first_byte` and `idle` both `wait`.
    pub fn waiting(wait: Duration) -> Self {
        Timeouts {
            first_byte: wait,
            idle: wait,
            ..Timeouts::default()
        }
    }
}

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutKind {
    Connect,
    FirstByte,
    Idle,
    Total,
}

impl TimeoutKind {
    /// As errors and the docs name it.
    pub fn name(self) -> &'static str {
        match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::FirstByte => "first-byte",
            TimeoutKind::Idle => "idle",
            TimeoutKind::Total => "total",
        }
    }
}

/// A duration as errors show it: `30 s`, `0.5 s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs_f64();
        if self.0.subsec_millis() == 0 {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{} s", (seconds * 1000.0).round() / 1000.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_show_whole_or_to_the_millisecond() {
        assert_eq!(Seconds(Duration::from_secs(30)).to_string(), "30 s");
        assert_eq!(Seconds(Duration::from_millis(500)).to_string(), "0.5 s");
        assert_eq!(Seconds(Duration::from_millis(1250)).to_string(), "1.25 s");
    }
}
