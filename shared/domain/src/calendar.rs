//! Whose calendar "today" is: encore serves Korean users, so a release's age, the lake's
//! partition dates and the daily schedule all count days in Asia/Seoul.

use chrono::{DateTime, NaiveDate, Utc};

/// The time zone whose calendar decides what "today" is.
pub const SERVICE_TZ: chrono_tz::Tz = chrono_tz::Asia::Seoul;

/// The date in [`SERVICE_TZ`] at the instant `now`.
pub fn service_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&SERVICE_TZ).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_changes_at_midnight_in_seoul() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            service_date(at("2026-11-25T14:59:59Z")),
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
        );
        assert_eq!(
            service_date(at("2026-11-25T15:00:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
        );
    }
}
