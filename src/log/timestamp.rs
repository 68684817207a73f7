//! Syslog-style local timestamps (`Nov  3 12:00:00`), as Postfix's maillog_file writes.

/// The current local time as `Mmm dd hh:mm:ss`, day padded with a space.
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
        return "Jan  1 00:00:00".into();
    }
    let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("Jan");
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
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
}
