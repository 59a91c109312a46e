//! Whose clock the portal's times are written in: the viewer's.
//!
//! The browser knows its time zone (`Intl`), the server does not; so after hydration the browser
//! keeps it in a `tz` cookie, and every request after that carries it. The server turns moments
//! into wall times in that zone (it has the time zone database; the WASM client needs none) and
//! names the zone on the page. Both sides then write the same [`WallTime`]s, so the hydrated page
//! equals the server's render: the zone never changes during hydration. A request without the
//! cookie (the very first page of a browser, which is the login page for anything with times
//! on it) gets the portal host's zone (`TZ` or `/etc/localtime`), also named on the page.

/// The cookie that holds the browser's IANA time zone name (e.g. `Europe/Berlin`).
pub const TZ_COOKIE: &str = "tz";

/// Whether `name` looks like an IANA zone name: letters, digits, `/ _ + -`, no `..`, at most 64
/// characters. Anything else in the cookie is ignored rather than looked up.
pub fn plausible_zone_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.contains("..")
        && !name.starts_with('/')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'))
}

#[cfg(feature = "ssr")]
pub use server::ViewerZone;

#[cfg(feature = "ssr")]
mod server {
    use jiff::tz::TimeZone;
    use jiff::Timestamp;

    use super::{plausible_zone_name, TZ_COOKIE};
    use crate::dates::{Clock, Timed, WallTime};

    /// The time zone the current viewer reads times in.
    #[derive(Debug, Clone)]
    pub struct ViewerZone {
        zone: TimeZone,
        name: String,
    }

    impl ViewerZone {
        /// The zone of the current request: its `tz` cookie if that names a known zone, else the
        /// portal host's zone.
        pub fn of_request() -> ViewerZone {
            ViewerZone::named(crate::on_server::request_cookie(TZ_COOKIE).as_deref())
        }

        /// The zone named by the `tz` cookie in `headers` (for routes outside server functions).
        pub fn of_headers(headers: &axum::http::HeaderMap) -> ViewerZone {
            ViewerZone::named(crate::on_server::cookie_in(headers, TZ_COOKIE).as_deref())
        }

        /// The zone called `name` if there is one, else the portal host's zone.
        pub fn named(name: Option<&str>) -> ViewerZone {
            let known = name
                .filter(|n| plausible_zone_name(n))
                .and_then(|n| TimeZone::get(n).ok().map(|zone| (zone, n.to_owned())));
            match known {
                Some((zone, name)) => ViewerZone { zone, name },
                None => {
                    let zone = TimeZone::system();
                    let name = zone.iana_name().unwrap_or("UTC").to_owned();
                    ViewerZone { zone, name }
                }
            }
        }

        /// The zone's name, to show next to the times (`Europe/Berlin`).
        pub fn name(&self) -> &str {
            &self.name
        }

        /// The moment this zone's clock shows what a UTC clock shows at `utc_secs`: the start of
        /// a day typed into a filter, taken as a day of this zone.
        pub fn as_local(&self, utc_secs: i64) -> i64 {
            Timestamp::from_second(utc_secs)
                .map(|ts| TimeZone::UTC.to_datetime(ts))
                .and_then(|dt| self.zone.to_timestamp(dt))
                .map_or(utc_secs, |ts| ts.as_second())
        }

        /// What a clock in this zone showed at Unix time `secs` (out-of-range times are clamped).
        pub fn wall(&self, secs: i64) -> WallTime {
            let ts = Timestamp::from_second(secs).unwrap_or(if secs < 0 {
                Timestamp::MIN
            } else {
                Timestamp::MAX
            });
            let dt = self.zone.to_datetime(ts);
            // jiff's ranges (month 1–12, hour 0–23, …) fit the narrower types.
            WallTime {
                year: i32::from(dt.year()),
                month: dt.month() as u8,
                day: dt.day() as u8,
                hour: dt.hour() as u8,
                minute: dt.minute() as u8,
            }
        }

        /// This zone's clock for `moments` (in any order, repeats allowed), with its offset at
        /// `now`.
        pub fn clock(&self, moments: impl IntoIterator<Item = i64>, now: i64) -> Clock {
            let mut known: Vec<(i64, WallTime)> =
                moments.into_iter().map(|at| (at, self.wall(at))).collect();
            known.sort_unstable_by_key(|(at, _)| *at);
            known.dedup_by_key(|(at, _)| *at);
            let offset_secs =
                Timestamp::from_second(now).map_or(0, |ts| self.zone.to_offset(ts).seconds());
            Clock {
                zone: self.name.clone(),
                offset_secs,
                known,
            }
        }

        /// `items` with the moment `at` gives for each, as this zone's clock shows it, and this
        /// zone's name.
        pub fn timed<T>(&self, items: Vec<T>, at: impl Fn(&T) -> i64) -> Timed<T> {
            Timed {
                items: items
                    .into_iter()
                    .map(|item| {
                        let wall = self.wall(at(&item));
                        (item, wall)
                    })
                    .collect(),
                zone: self.name.clone(),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn r16_berlin_is_an_hour_ahead_in_winter_and_two_in_summer() {
            let berlin = ViewerZone::named(Some("Europe/Berlin"));
            assert_eq!(berlin.name(), "Europe/Berlin");
            // 2026-12-07 13:05 UTC
            let w = berlin.wall(1_796_648_700);
            assert_eq!((w.day, w.hour, w.minute), (7, 14, 5));
            // 2026-07-01 12:00 UTC
            let s = berlin.wall(1_782_907_200);
            assert_eq!((s.month, s.day, s.hour), (7, 1, 14));
        }

        #[test]
        fn r16_a_filter_day_is_a_day_of_the_viewers_zone() {
            let berlin = ViewerZone::named(Some("Europe/Berlin"));
            // 2026-12-07 00:00 in Berlin is 2026-12-06 23:00 UTC.
            assert_eq!(berlin.as_local(1_796_601_600), 1_796_601_600 - 3600);
            let utc = ViewerZone::named(Some("UTC"));
            assert_eq!(utc.as_local(1_796_601_600), 1_796_601_600);
        }

        #[test]
        fn r16_an_unknown_or_hostile_cookie_falls_back_to_the_host_zone() {
            let host = ViewerZone::named(None);
            for bad in ["Mars/Olympus", "../../etc/passwd", "", "Europe/Berlin; x"] {
                assert_eq!(ViewerZone::named(Some(bad)).name(), host.name(), "{bad}");
            }
        }

        #[test]
        fn r22_a_list_carries_each_moment_as_the_viewers_clock_shows_it_and_names_the_zone() {
            let berlin = ViewerZone::named(Some("Europe/Berlin"));
            // 2026-12-07 13:05 UTC and 2026-07-01 12:00 UTC.
            let list = berlin.timed(vec![("a", 1_796_648_700), ("b", 1_782_907_200)], |x| x.1);
            assert_eq!(list.zone, "Europe/Berlin");
            let walls: Vec<_> = list.items.iter().map(|(x, w)| (x.0, w.hour)).collect();
            assert_eq!(walls, [("a", 14), ("b", 14)]);
            assert_eq!(
                list.items[0].1.date_time(crate::i18n::Lang::De),
                "07.12.2026, 14:05"
            );
        }

        #[test]
        fn r16_a_clock_holds_each_moment_once_in_order_and_the_offset_now() {
            let berlin = ViewerZone::named(Some("Europe/Berlin"));
            // 2026-12-07 13:05 UTC (winter), 2026-07-01 12:00 UTC (summer), the first again.
            let clock = berlin.clock([1_796_648_700, 1_782_907_200, 1_796_648_700], 1_796_648_700);
            assert_eq!(clock.zone, "Europe/Berlin");
            assert_eq!(clock.offset_secs, 3600);
            let order: Vec<_> = clock.known.iter().map(|(at, w)| (*at, w.hour)).collect();
            assert_eq!(order, [(1_782_907_200, 14), (1_796_648_700, 14)]);
            // A moment not in the list is written with the offset now.
            assert_eq!(clock.wall(1_796_648_700 + 60).minute, 6);
        }

        #[test]
        fn r16_times_out_of_range_are_clamped_not_a_panic() {
            let utc = ViewerZone::named(Some("UTC"));
            assert!(utc.wall(i64::MAX).year > 9000);
            assert!(utc.wall(i64::MIN).year < -9000);
        }
    }
}

/// In the browser: keeps the browser's time zone in the `tz` cookie for the next requests. Does
/// nothing when the cookie already says so or the browser names no zone.
#[cfg(feature = "hydrate")]
pub fn remember_browser_zone() {
    use wasm_bindgen::JsValue;

    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
        .resolved_options();
    let Some(zone) = js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()
        .and_then(|v| v.as_string())
        .filter(|z| plausible_zone_name(z))
    else {
        return;
    };
    let document = leptos::prelude::document();
    let cookies = js_sys::Reflect::get(&document, &JsValue::from_str("cookie"))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    let current = format!("{TZ_COOKIE}={zone}");
    if cookies.split(';').any(|c| c.trim() == current) {
        return;
    }
    let cookie = format!("{current}; Path=/; Max-Age=31536000; SameSite=Lax");
    let _ = js_sys::Reflect::set(
        &document,
        &JsValue::from_str("cookie"),
        &JsValue::from_str(&cookie),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r16_zone_names_are_checked_before_any_lookup() {
        for good in [
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "UTC",
            "Etc/GMT+1",
        ] {
            assert!(plausible_zone_name(good), "{good}");
        }
        for bad in [
            "",
            "../x",
            "/etc/passwd",
            "Europe/Berlin;",
            "a b",
            &"A".repeat(65),
        ] {
            assert!(!plausible_zone_name(bad), "{bad}");
        }
    }
}
