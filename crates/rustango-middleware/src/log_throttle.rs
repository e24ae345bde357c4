//! Warnings about a failing store (Redis down, an in-memory store full) at most once
//! per period: an outage is a line every few seconds in the log, not one per request.

use std::sync::atomic::{AtomicU64, Ordering};

/// Admits one log line per [`PERIOD_SECS`](Self::PERIOD_SECS); a `static` per kind of
/// warning.
pub(crate) struct LogThrottle {
    /// The period of the last admitted line (`u64::MAX`: none yet).
    last: AtomicU64,
}

impl LogThrottle {
    const PERIOD_SECS: u64 = 10;

    pub(crate) const fn new() -> Self {
        LogThrottle {
            last: AtomicU64::new(u64::MAX),
        }
    }

    /// Whether a line may be logged now.
    pub(crate) fn admit(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.admit_at(now)
    }

    /// Whether `now_secs` is the first call in its period.
    fn admit_at(&self, now_secs: u64) -> bool {
        let period = now_secs / Self::PERIOD_SECS;
        self.last.swap(period, Ordering::Relaxed) != period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_ten_seconds() {
        let throttle = LogThrottle::new();
        assert!(throttle.admit_at(1_000));
        assert!(!throttle.admit_at(1_000));
        assert!(!throttle.admit_at(1_009));
        assert!(throttle.admit_at(1_010));
        assert!(!throttle.admit_at(1_019));
        // A clock that steps back is a new period too: a line, not silence.
        assert!(throttle.admit_at(995));
    }
}
