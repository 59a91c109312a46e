//! Unix timestamps as UTC calendar text, with pure arithmetic so the browser shows exactly what the
//! server renders (no date library, no local time zone that could differ between the two).

const DAY: i64 = 86_400;

/// `(year, month, day)` of a day count since 1970-01-01 (days-from-civil inverted, H. Hinnant).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` (UTC) of a Unix timestamp.
pub fn utc_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Year, month, day, hour and minute (UTC) of a Unix timestamp.
pub fn utc_parts(secs: i64) -> (i64, i64, i64, i64, i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    let in_day = secs.rem_euclid(DAY);
    (y, m, d, in_day / 3600, in_day % 3600 / 60)
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix timestamp.
pub fn utc_date_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    let in_day = secs.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        in_day / 3600,
        in_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_750_000_000), "2025-06-15");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date_time(1_750_000_000), "2025-06-15 15:06 UTC");
    }
}
