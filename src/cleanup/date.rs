//! RFC 5322 dates in Postfix's form, `Tue,  1 Dec 2026 12:10:56 +0100 (CET)`,
//! and the UTC stamp used in generated Message-IDs.
//!
//! Mirrors Postfix global/mail_date.c (day of month padded with a space,
//! numeric zone, zone name in a comment). Reads no parameters (the zone is the
//! process's local time zone, `TZ`). Implements RFC 5322 section 3.3.

/// `Tue,  1 Dec 2026 12:10:56 +0100 (CET)` for Unix time `t`, local time.
pub fn mail_date(t: i64) -> String {
    let Some(tm) = local(t) else {
        return "Thu,  1 Jan 1970 00:00:00 +0000 (UTC)".into();
    };
    let off = tm.tm_gmtoff / 60;
    let sign = if off < 0 { '-' } else { '+' };
    let off = off.abs();
    let zone = zone_name(&tm);
    format!(
        "{}, {:>2} {} {} {:02}:{:02}:{:02} {sign}{:02}{:02} ({zone})",
        DAYS.get(tm.tm_wday as usize).copied().unwrap_or("Thu"),
        tm.tm_mday,
        MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("Jan"),
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        off / 60,
        off % 60,
    )
}

/// `YYYYMMDDhhmmss` in UTC, as Postfix's cleanup puts before the queue id in a
/// generated Message-ID.
pub fn utc_stamp(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// C `asctime(localtime(t))` without the newline: `Tue Dec  1 12:00:00 2026`,
/// the form Postfix's mailq and postcat print.
pub fn asctime(t: i64) -> String {
    let Some(tm) = local(t) else {
        return "Thu Jan  1 00:00:00 1970".into();
    };
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.clamp(0, 6) as usize],
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
}

fn local(t: i64) -> Option<libc::tm> {
    let t = t as libc::time_t;
    // SAFETY: localtime_r writes into the zeroed struct we own; both pointers valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    ok.then_some(tm)
}

fn zone_name(tm: &libc::tm) -> String {
    if tm.tm_zone.is_null() {
        return "UTC".into();
    }
    // SAFETY: tm_zone, when set by localtime_r, points to a static NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) };
    name.to_string_lossy().into_owned()
}

/// Days since 1970-01-01 to (year, month, day), H. Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamp_of_known_times() {
        assert_eq!(utc_stamp(0), "19700101000000");
        assert_eq!(utc_stamp(1_398_793_360), "20140429174240");
    }

    #[test]
    fn mail_date_shape() {
        let d = mail_date(1_398_793_360);
        let re = regex::Regex::new(
            r"^[A-Z][a-z]{2}, [ 123]\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \(.+\)$",
        )
        .unwrap();
        assert!(re.is_match(&d), "{d}");
    }
}
