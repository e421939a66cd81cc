//! Time zones for what people read.
//!
//! Vigie stores and compares instants in UTC. People read them in their own
//! zone: the times on pages and in e-mails, and the days a chart or a report
//! counts (a "day" is a local day, midnight to midnight, 23 or 25 hours long
//! when the clocks change). The installation's zone is chosen once
//! (`VIGIE_TIMEZONE`, else the machine's); everything here is pure.

use std::fmt;

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
pub use chrono_tz::Tz;

const DAY: i64 = 86_400;

/// A zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownZone(pub String);

impl fmt::Display for UnknownZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown time zone {:?}: give an IANA name such as Europe/Paris, America/Montreal or UTC", self.0)
    }
}

impl std::error::Error for UnknownZone {}

/// An IANA zone name (`Europe/Paris`, `UTC`), its case ignored.
pub fn parse_zone(name: &str) -> Result<Tz, UnknownZone> {
    let name = name.trim();
    name.parse::<Tz>()
        .ok()
        .or_else(|| chrono_tz::TZ_VARIANTS.iter().copied().find(|z| z.name().eq_ignore_ascii_case(name)))
        .ok_or_else(|| UnknownZone(name.to_string()))
}

/// The instant a local clock reading stands for. A reading the clocks
/// skipped (spring forward) is taken an hour later, as a wall clock shows
/// it; one they repeated (fall back) is its first occurrence.
pub fn from_local(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => {
            let later = local + chrono::Duration::hours(1);
            zone.from_local_datetime(&later).earliest().map_or_else(|| later.and_utc(), |t| t.with_timezone(&Utc))
        }
    }
}

/// Local midnight of `day` in `zone`.
pub fn local_midnight(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    from_local(zone, day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The local date of an instant.
pub fn local_date(zone: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&zone).date_naive()
}

/// The end of the bucket of `size_secs` that holds `t`: for whole days the
/// next local midnight (weeks: the next local Monday); for shorter buckets
/// the next local clock time that is a multiple of the size from midnight
/// (`size_secs` should divide a day).
pub fn bucket_end(zone: Tz, t: DateTime<Utc>, size_secs: i64) -> DateTime<Utc> {
    let size = size_secs.max(1);
    let local = t.with_timezone(&zone);
    let day = local.date_naive();
    if size >= DAY {
        let days = size / DAY;
        let mut next = day.checked_add_days(Days::new(1)).unwrap_or(day);
        if days == 7 {
            use chrono::Datelike;
            while next.weekday() != chrono::Weekday::Mon {
                next = next.checked_add_days(Days::new(1)).unwrap_or(next);
            }
        }
        return local_midnight(zone, next);
    }
    // Seconds since local midnight, by the wall clock.
    let since_midnight = local.time().signed_duration_since(chrono::NaiveTime::MIN).num_seconds();
    let next = (since_midnight.div_euclid(size) + 1) * size;
    if next >= DAY {
        return local_midnight(zone, day.checked_add_days(Days::new(1)).unwrap_or(day));
    }
    let reading = day.and_hms_opt(0, 0, 0).unwrap_or_default() + chrono::Duration::seconds(next);
    let end = from_local(zone, reading);
    // A fall-back hour reads the same clock time twice: never end before `t`.
    if end > t { end } else { t + chrono::Duration::seconds(size - since_midnight.rem_euclid(size)) }
}

/// The starts of the buckets of `[from, to)`, oldest first, `from` first.
/// Buckets of whole days follow the local calendar (each starts at local
/// midnight, so a day the clocks change lasts 23 or 25 hours); shorter ones
/// are `size_secs` of real time each.
pub fn bucket_starts(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>, size_secs: i64) -> Vec<i64> {
    let size = size_secs.max(1);
    let mut starts = vec![from.timestamp()];
    if size >= DAY && size % DAY == 0 {
        let step = u64::try_from(size / DAY).unwrap_or(1);
        let mut day = local_date(zone, from);
        while let Some(next) = day.checked_add_days(Days::new(step)) {
            day = next;
            let start = local_midnight(zone, day).timestamp();
            if start >= to.timestamp() {
                break;
            }
            if start > *starts.last().unwrap_or(&i64::MIN) {
                starts.push(start);
            }
        }
    } else {
        let mut start = from.timestamp() + size;
        while start < to.timestamp() {
            starts.push(start);
            start += size;
        }
    }
    starts
}

/// `t` as a reader of `zone` sees it: `%d/%m/%Y %H:%M` (or any chrono
/// format), followed by the zone's abbreviation (`CET`, `CEST`, `UTC`).
pub fn format_in(zone: Tz, t: DateTime<Utc>, format: &str) -> String {
    let local = t.with_timezone(&zone);
    format!("{} {}", local.format(format), local.format("%Z"))
}

/// The same without the zone's abbreviation (dates, chart labels).
pub fn format_local(zone: Tz, t: DateTime<Utc>, format: &str) -> String {
    t.with_timezone(&zone).format(format).to_string()
}

/// An instant from seconds since the epoch (out of range: the epoch).
pub fn instant(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const PARIS: Tz = chrono_tz::Europe::Paris;

    #[test]
    fn names_are_read_whatever_their_case_and_unknown_ones_are_explained() {
        assert_eq!(parse_zone("Europe/Paris"), Ok(PARIS));
        assert_eq!(parse_zone(" europe/paris "), Ok(PARIS));
        assert_eq!(parse_zone("UTC"), Ok(chrono_tz::UTC));
        let err = parse_zone("Europe/Pari").unwrap_err();
        assert!(err.to_string().contains("\"Europe/Pari\"") && err.to_string().contains("Europe/Paris"), "{err}");
        assert!(parse_zone("").is_err());
    }

    #[test]
    fn times_read_in_the_zone_with_its_abbreviation() {
        let winter = utc("2026-11-24T08:05:00Z");
        assert_eq!(format_in(PARIS, winter, "%d/%m/%Y %H:%M"), "24/11/2026 09:05 CET");
        let summer = utc("2026-07-01T08:05:00Z");
        assert_eq!(format_in(PARIS, summer, "%H:%M"), "10:05 CEST");
        assert_eq!(format_in(chrono_tz::UTC, summer, "%H:%M"), "08:05 UTC");
        // 23:30 UTC on the 24th is already the 25th in Paris.
        assert_eq!(local_date(PARIS, utc("2026-11-24T23:30:00Z")), NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
    }

    #[test]
    fn day_buckets_follow_local_midnights_across_clock_changes() {
        // The clocks go back on 25 October 2026 (03:00 CEST -> 02:00 CET).
        let from = local_midnight(PARIS, NaiveDate::from_ymd_opt(2026, 10, 24).unwrap());
        assert_eq!(from, utc("2026-10-23T22:00:00Z"));
        let to = local_midnight(PARIS, NaiveDate::from_ymd_opt(2026, 10, 27).unwrap());
        let starts = bucket_starts(PARIS, from, to, DAY);
        let expected: Vec<i64> = ["2026-10-23T22:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"]
            .iter()
            .map(|s| utc(s).timestamp())
            .collect();
        assert_eq!(starts, expected);
        // The 25th lasted 25 hours.
        assert_eq!(starts[2] - starts[1], 25 * 3_600);
        // Spring forward: 29 March 2026 lasts 23 hours.
        let from = local_midnight(PARIS, NaiveDate::from_ymd_opt(2026, 3, 29).unwrap());
        let starts = bucket_starts(PARIS, from, from + chrono::Duration::days(2), DAY);
        assert_eq!(starts[1] - starts[0], 23 * 3_600);
        // In UTC, days are what they were.
        let from = utc("2026-10-24T00:00:00Z");
        assert_eq!(bucket_starts(chrono_tz::UTC, from, from + chrono::Duration::days(2), DAY).len(), 2);
    }

    #[test]
    fn week_buckets_start_on_local_midnights_seven_days_apart() {
        let from = local_midnight(PARIS, NaiveDate::from_ymd_opt(2026, 10, 19).unwrap());
        let starts = bucket_starts(PARIS, from, from + chrono::Duration::days(21), 7 * DAY);
        assert_eq!(starts.len(), 3);
        assert_eq!(instant(starts[1]), utc("2026-10-25T23:00:00Z"));
    }

    #[test]
    fn a_bucket_ends_at_the_next_local_boundary() {
        // 09:05 CET: the hour ends at 10:00 CET, the 6-hour bucket at 12:00
        // CET, the day at midnight CET, the week on Monday 30 November.
        let t = utc("2026-11-24T08:05:00Z");
        assert_eq!(bucket_end(PARIS, t, 3_600), utc("2026-11-24T09:00:00Z"));
        assert_eq!(bucket_end(PARIS, t, 6 * 3_600), utc("2026-11-24T11:00:00Z"));
        assert_eq!(bucket_end(PARIS, t, DAY), utc("2026-11-24T23:00:00Z"));
        assert_eq!(bucket_end(PARIS, t, 7 * DAY), utc("2026-11-29T23:00:00Z"));
        // 22:30 CET: the 6-hour bucket ends at local midnight.
        assert_eq!(bucket_end(PARIS, utc("2026-11-24T21:30:00Z"), 6 * 3_600), utc("2026-11-24T23:00:00Z"));
        // Whole-hour buckets in a half-hour zone end on its half hours.
        let kolkata = parse_zone("Asia/Kolkata").unwrap();
        assert_eq!(bucket_end(kolkata, t, 3_600), utc("2026-11-24T08:30:00Z"));
        // The repeated hour of a fall-back night: the end is still later than t.
        let t = utc("2026-10-25T01:10:00Z"); // 02:10 CET, the second time.
        let end = bucket_end(PARIS, t, 3_600);
        assert!(end > t && end <= t + chrono::Duration::hours(1), "{end}");
    }
}
