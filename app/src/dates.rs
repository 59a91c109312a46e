//! Dates and times written the way each language writes them (EN "7 Dec 2026, 14:05", DE
//! "07.12.2026, 14:05"). Pure, and compiled for the server and the browser alike: the server turns
//! a moment into a [`WallTime`] in the viewer's time zone (see `time_zone`), both sides write that
//! the same way, so the hydrated page shows exactly what the server rendered.

use serde::{Deserialize, Serialize};

use crate::i18n::Lang;

/// A moment as a clock on the wall shows it in one time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WallTime {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl WallTime {
    /// The day: EN "7 Dec 2026", DE "07.12.2026".
    pub fn date(&self, lang: Lang) -> String {
        match lang {
            Lang::En => {
                let month = MONTHS_EN
                    .get(usize::from(self.month).wrapping_sub(1))
                    .copied()
                    .unwrap_or("?");
                format!("{} {month} {}", self.day, self.year)
            }
            Lang::De => format!("{:02}.{:02}.{}", self.day, self.month, self.year),
        }
    }

    /// Day and time: EN "7 Dec 2026, 14:05", DE "07.12.2026, 14:05" (both languages use a 24-hour
    /// clock here: an audit trail is read for order and exactness, not for a.m./p.m.).
    pub fn date_time(&self, lang: Lang) -> String {
        format!("{}, {:02}:{:02}", self.date(lang), self.hour, self.minute)
    }
}

/// The viewer's clock for a page whose data holds moments in many places (the domain table): each
/// moment of the data as the server converted it in the viewer's zone, and that zone's offset at
/// the time of the answer. The page looks moments up here, so the hydrated page writes what the
/// server rendered; a moment the server did not send (none should reach the page) is written with
/// that offset, right for anything recent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// The IANA name of the zone (`Europe/Berlin`).
    pub zone: String,
    /// The zone's offset from UTC at the time of the answer, in seconds.
    pub offset_secs: i32,
    /// Each moment of the data (Unix seconds), sorted, with its wall time.
    pub known: Vec<(i64, WallTime)>,
}

impl Clock {
    /// What the viewer's clock showed at Unix time `secs`.
    pub fn wall(&self, secs: i64) -> WallTime {
        match self.known.binary_search_by_key(&secs, |(at, _)| *at) {
            Ok(i) => self.known[i].1,
            Err(_) => {
                let (year, month, day, hour, minute) =
                    domain::time::utc_parts(secs.saturating_add(i64::from(self.offset_secs)));
                // Each part is in its range by construction (month 1–12, …).
                let part = |v: i64| u8::try_from(v).unwrap_or(0);
                WallTime {
                    year: i32::try_from(year).unwrap_or(0),
                    month: part(month),
                    day: part(day),
                    hour: part(hour),
                    minute: part(minute),
                }
            }
        }
    }
}

/// Things each about one moment, with that moment as the viewer's clock shows it and the name
/// of the clock's zone: what a server function sends for a list whose times the page writes (the
/// server converts, see `time_zone::ViewerZone::timed`, so the hydrated page writes exactly what
/// the server rendered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timed<T> {
    /// Each thing with its moment.
    pub items: Vec<(T, WallTime)>,
    /// The IANA name of the zone (`Europe/Berlin`), written next to the times.
    pub zone: String,
}

impl<T> Timed<T> {
    /// Nothing in the list.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(year: i32, month: u8, day: u8, hour: u8, minute: u8) -> WallTime {
        WallTime {
            year,
            month,
            day,
            hour,
            minute,
        }
    }

    #[test]
    fn r16_english_writes_day_month_name_year() {
        assert_eq!(
            at(2026, 12, 7, 14, 5).date_time(Lang::En),
            "7 Dec 2026, 14:05"
        );
        assert_eq!(at(2027, 1, 31, 0, 0).date(Lang::En), "31 Jan 2027");
        assert_eq!(
            at(2027, 1, 31, 9, 7).date_time(Lang::En),
            "31 Jan 2027, 09:07"
        );
    }

    #[test]
    fn r16_german_writes_dotted_numbers_with_leading_zeros() {
        assert_eq!(
            at(2026, 12, 7, 14, 5).date_time(Lang::De),
            "07.12.2026, 14:05"
        );
        assert_eq!(at(2027, 1, 31, 0, 0).date(Lang::De), "31.01.2027");
    }

    #[test]
    fn r16_a_clock_answers_the_servers_wall_times_and_falls_back_to_its_offset() {
        let clock = Clock {
            zone: "Europe/Berlin".into(),
            offset_secs: 3600,
            known: vec![(1_782_907_200, at(2026, 7, 1, 14, 0))],
        };
        // Sent by the server (summer time: two hours ahead).
        assert_eq!(clock.wall(1_782_907_200), at(2026, 7, 1, 14, 0));
        // Not sent: the offset of the answer (2026-12-07 13:05 UTC → 14:05).
        assert_eq!(clock.wall(1_796_648_700), at(2026, 12, 7, 14, 5));
    }

    #[test]
    fn r16_a_month_out_of_range_shows_a_question_mark_not_a_panic() {
        assert_eq!(at(2026, 13, 1, 0, 0).date(Lang::En), "1 ? 2026");
        assert_eq!(at(2026, 0, 1, 0, 0).date(Lang::En), "1 ? 2026");
    }
}
