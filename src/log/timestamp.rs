//! Local timestamps as Postfix's maillog_file writes them (`Nov 03 12:00:00`).
//!
//! Postfix's postlogd formats with strftime "%b %d %H:%M:%S" (msg_logger.c),
//! so the day is zero-padded, unlike syslog's `Nov  3`; log readers such as
//! pflogsumm accept both.

/// The current local time as `Mmm dd hh:mm:ss`, day padded with a zero.
pub fn now() -> String {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map(|ts| ts.tv_sec())
        .unwrap_or(0);
    format(t as libc::time_t)
}

/// Formats seconds since the epoch in local time.
pub fn format(t: libc::time_t) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: localtime_r writes into the zeroed struct we own; both pointers are valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return "Jan 01 00:00:00".into();
    }
    let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("Jan");
    format!(
        "{} {:02} {:02}:{:02}:{:02}",
        month, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn shape() {
        let s = super::now();
        assert_eq!(s.len(), 15, "{s}");
        assert_eq!(&s[3..4], " ");
    }

    #[test]
    fn day_is_zero_padded_as_postfix_maillog_file() {
        // 2026-12-05 12:00 UTC: the 4th, 5th or 6th in any time zone.
        let s = super::format(1_796_472_000);
        assert!(s.starts_with("Dec 0"), "{s}");
        assert_eq!(s.len(), 15, "{s}");
    }
}
