//! Retry timing: when a deferred recipient is tried again, and when a message has
//! been in the queue too long to keep trying.
//!
//! Mirrors Postfix qmgr_active.c/qmgr_defer.c: the pause between attempts starts
//! at `minimal_backoff_time` and doubles with each failed attempt, up to
//! `maximal_backoff_time` (Postfix doubles in effect by using the message's age;
//! counting attempts gives the same curve without a file mtime); a message
//! whose recipients are still deferred after `maximal_queue_lifetime`
//! (`bounce_queue_lifetime` for the null sender) is returned to its sender.
//! Reads (through `Timing::from_config`) `minimal_backoff_time`,
//! `maximal_backoff_time`, `maximal_queue_lifetime`, `bounce_queue_lifetime`,
//! `queue_run_delay`, `delay_warning_time`.

use std::time::Duration;

use super::names;
use crate::config::{Config, ConfigError};

/// The qmgr time parameters, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub min_backoff: i64,
    pub max_backoff: i64,
    pub max_lifetime: i64,
    pub bounce_lifetime: i64,
    pub queue_run_delay: Duration,
    /// 0: no delay warnings.
    pub delay_warning: i64,
}

fn secs(cfg: &Config, name: &str) -> Result<i64, ConfigError> {
    Ok(i64::try_from(cfg.get_time(name)?.as_secs()).unwrap_or(i64::MAX))
}

impl Timing {
    pub fn from_config(cfg: &Config) -> Result<Timing, ConfigError> {
        let min_backoff = secs(cfg, names::MINIMAL_BACKOFF_TIME)?.max(1);
        Ok(Timing {
            min_backoff,
            // Postfix: "maximal_backoff_time must be >= minimal_backoff_time".
            max_backoff: secs(cfg, names::MAXIMAL_BACKOFF_TIME)?.max(min_backoff),
            max_lifetime: secs(cfg, names::MAXIMAL_QUEUE_LIFETIME)?,
            bounce_lifetime: secs(cfg, names::BOUNCE_QUEUE_LIFETIME)?,
            // A zero delay would spin the scan loop.
            queue_run_delay: cfg
                .get_time(names::QUEUE_RUN_DELAY)?
                .max(Duration::from_secs(1)),
            delay_warning: secs(cfg, names::DELAY_WARNING_TIME)?,
        })
    }

    /// The pause after the `attempts`-th failed attempt (1 = the first).
    pub fn backoff(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(40);
        self.min_backoff
            .saturating_mul(1i64 << doublings)
            .min(self.max_backoff)
    }

    /// Has a message that arrived at `arrival` outlived its queue lifetime at
    /// `now`? Bounces (null sender) use `bounce_queue_lifetime`. A lifetime of
    /// 0 means one attempt only (postconf(5)).
    pub fn expired(&self, arrival: i64, null_sender: bool, now: i64) -> bool {
        let lifetime = if null_sender {
            self.bounce_lifetime
        } else {
            self.max_lifetime
        };
        now.saturating_sub(arrival) >= lifetime
    }

    /// Is a delay warning due for a message of this arrival time?
    pub fn warn_delay(&self, arrival: i64, now: i64) -> bool {
        self.delay_warning > 0 && now.saturating_sub(arrival) >= self.delay_warning
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(min: i64, max: i64) -> Timing {
        Timing {
            min_backoff: min,
            max_backoff: max,
            max_lifetime: 5 * 86_400,
            bounce_lifetime: 86_400,
            queue_run_delay: Duration::from_secs(300),
            delay_warning: 0,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let t = timing(300, 4000);
        let got: Vec<i64> = (1..=6).map(|a| t.backoff(a)).collect();
        assert_eq!(got, [300, 600, 1200, 2400, 4000, 4000]);
        assert_eq!(t.backoff(0), 300);
        assert_eq!(t.backoff(u32::MAX), 4000);
        let t = timing(1, 3);
        assert_eq!([t.backoff(1), t.backoff(2), t.backoff(3)], [1, 2, 3]);
    }

    #[test]
    fn expiry_and_delay_warnings() {
        let mut t = timing(300, 4000);
        assert!(!t.expired(0, false, 5 * 86_400 - 1));
        assert!(t.expired(0, false, 5 * 86_400));
        assert!(t.expired(0, true, 86_400));
        t.max_lifetime = 0;
        assert!(t.expired(100, false, 100), "0: one attempt only");
        assert!(!t.warn_delay(0, 1_000_000));
        t.delay_warning = 4 * 3600;
        assert!(!t.warn_delay(0, 4 * 3600 - 1));
        assert!(t.warn_delay(0, 4 * 3600));
    }

    #[test]
    fn units_follow_the_defaults() {
        let text =
            "minimal_backoff_time = 1\nmaximal_queue_lifetime = 2s\nbounce_queue_lifetime = 1\n\
                    queue_run_delay = 0\ndelay_warning_time = 1\n";
        let main =
            crate::config::MainCf::parse(std::path::Path::new("main.cf"), text.as_bytes()).unwrap();
        let cfg = Config::from_main(std::path::Path::new("/nonexistent"), main).unwrap();
        let t = Timing::from_config(&cfg).unwrap();
        assert_eq!(t.min_backoff, 1);
        assert_eq!(t.max_backoff, 4000);
        assert_eq!(t.max_lifetime, 2);
        assert_eq!(t.bounce_lifetime, 86_400, "a bare number is days");
        assert_eq!(t.queue_run_delay, Duration::from_secs(1));
        assert_eq!(t.delay_warning, 3600, "a bare number is hours");
    }
}
