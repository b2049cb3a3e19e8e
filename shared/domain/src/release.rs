//! An artist's releases (albums and singles) and their release dates, which Spotify gives
//! at year, month or day precision; which of them are the artist's latest, and whether one
//! is new.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many of an artist's newest releases ingest keeps by default.
pub const LATEST_RELEASES_KEPT: usize = 3;
/// A release is "new" for this many days after it came out.
pub const NEW_RELEASE_DAYS: u64 = 30;
/// How precise a release date is (Spotify's `release_date_precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatePrecision {
    Year,
    Month,
    Day,
}

impl DatePrecision {
    /// Spotify's spelling: `year`, `month` or `day`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Month => "month",
            Self::Day => "day",
        }
    }

    /// Parses Spotify's spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "year" => Some(Self::Year),
            "month" => Some(Self::Month),
            "day" => Some(Self::Day),
            _ => None,
        }
    }
}

/// A release date at the precision Spotify knows it: never a day it did not give.
///
/// The total order (`Ord`, used to sort newest first) compares year, then month, then
/// day, a missing part sorting before any present one: `2021 < 2021-01 < 2021-01-01`.
/// [`ReleaseDate::cmp_at_common_precision`] compares only as far as both dates go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseDate {
    Year(i32),
    /// Year and month (1..=12).
    Month(i32, u32),
    Day(NaiveDate),
}

/// A release date string that is none of `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or names a
/// month or day that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a release date (YYYY, YYYY-MM or YYYY-MM-DD)")]
pub struct ReleaseDateError(pub String);

impl ReleaseDate {
    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD`; the precision follows the shape.
    pub fn parse(value: &str) -> Result<Self, ReleaseDateError> {
        let invalid = || ReleaseDateError(value.to_owned());
        let parts: Vec<&str> = value.split('-').collect();
        let number = |part: &str, len: usize| -> Result<u32, ReleaseDateError> {
            if part.len() == len && part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().map_err(|_| invalid())
            } else {
                Err(invalid())
            }
        };
        let year = i32::try_from(number(parts[0], 4)?).map_err(|_| invalid())?;
        match parts.as_slice() {
            [_] => Ok(Self::Year(year)),
            [_, month] => {
                let month = number(month, 2)?;
                if (1..=12).contains(&month) {
                    Ok(Self::Month(year, month))
                } else {
                    Err(invalid())
                }
            }
            [_, month, day] => NaiveDate::from_ymd_opt(year, number(month, 2)?, number(day, 2)?)
                .map(Self::Day)
                .ok_or_else(invalid),
            _ => Err(invalid()),
        }
    }

    /// Parses Spotify's `release_date` with its declared `release_date_precision`. When the
    /// two disagree the coarser wins, so a day is never read into a month-precision date.
    pub fn from_spotify(date: &str, precision: Option<&str>) -> Result<Self, ReleaseDateError> {
        let parsed = Self::parse(date)?;
        Ok(match precision.and_then(DatePrecision::parse) {
            Some(declared) => parsed.truncated(declared),
            None => parsed,
        })
    }

    /// The precision of this date.
    pub fn precision(&self) -> DatePrecision {
        match self {
            Self::Year(_) => DatePrecision::Year,
            Self::Month(..) => DatePrecision::Month,
            Self::Day(_) => DatePrecision::Day,
        }
    }

    /// The year.
    pub fn year(&self) -> i32 {
        match self {
            Self::Year(y) | Self::Month(y, _) => *y,
            Self::Day(d) => d.year(),
        }
    }

    /// This date at most as precise as `precision`.
    pub fn truncated(self, precision: DatePrecision) -> Self {
        match (self, precision) {
            (Self::Month(y, _), DatePrecision::Year) => Self::Year(y),
            (Self::Day(d), DatePrecision::Year) => Self::Year(d.year()),
            (Self::Day(d), DatePrecision::Month) => Self::Month(d.year(), d.month()),
            (date, _) => date,
        }
    }

    /// Compares only as far as both dates are known: `2021` and `2021-03-05` are equal at
    /// year precision, `2021-02` is before `2021-03-05`.
    pub fn cmp_at_common_precision(&self, other: &Self) -> Ordering {
        let common = self.precision().min(other.precision());
        self.truncated(common).cmp(&other.truncated(common))
    }

    /// The first day this date can mean (`2021-03` → 2021-03-01).
    pub fn first_day(&self) -> Option<NaiveDate> {
        match *self {
            Self::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1),
            Self::Month(y, m) => NaiveDate::from_ymd_opt(y, m, 1),
            Self::Day(d) => Some(d),
        }
    }

    /// The last day this date can mean (`2021-02` → 2021-02-28).
    pub fn last_day(&self) -> Option<NaiveDate> {
        match *self {
            Self::Year(y) => NaiveDate::from_ymd_opt(y, 12, 31),
            Self::Month(y, m) => {
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                NaiveDate::from_ymd_opt(ny, nm, 1).and_then(|d| d.pred_opt())
            }
            Self::Day(d) => Some(d),
        }
    }

    fn key(&self) -> (i32, Option<u32>, Option<u32>) {
        match *self {
            Self::Year(y) => (y, None, None),
            Self::Month(y, m) => (y, Some(m), None),
            Self::Day(d) => (d.year(), Some(d.month()), Some(d.day())),
        }
    }
}

impl Ord for ReleaseDate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for ReleaseDate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ReleaseDate {
    /// `2021`, `2021-03` or `2021-03-05`: exactly as precise as known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Year(y) => write!(f, "{y:04}"),
            Self::Month(y, m) => write!(f, "{y:04}-{m:02}"),
            Self::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

impl FromStr for ReleaseDate {
    type Err = ReleaseDateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ReleaseDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReleaseDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Spotify's `album_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlbumType {
    Album,
    Single,
    Compilation,
}

impl AlbumType {
    /// Parses Spotify's spelling (`album`, `single`, `compilation`, any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "album" => Some(Self::Album),
            "single" => Some(Self::Single),
            "compilation" => Some(Self::Compilation),
            _ => None,
        }
    }
}

/// One of an artist's releases, from the artist-albums endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Spotify album id.
    pub id: String,
    pub name: String,
    pub album_type: AlbumType,
    /// Serialized as Spotify writes it (`2021`, `2021-03`, `2021-03-05`); the precision
    /// follows from the shape.
    pub release_date: ReleaseDate,
    /// The widest cover image, when there is one.
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub spotify_url: Option<String>,
    /// True when the artist is the album's first (primary) artist, false when they only
    /// appear on someone else's release.
    pub primary_artist: bool,
    #[serde(default)]
    pub total_tracks: Option<u32>,
}

impl Release {
    /// True for the artist's own albums and singles: not compilations, not appearances
    /// on another artist's release. These are the candidates for "their latest".
    pub fn is_own_release(&self) -> bool {
        self.primary_artist && matches!(self.album_type, AlbumType::Album | AlbumType::Single)
    }

    /// True when the release came out within [`NEW_RELEASE_DAYS`] before `today`, as far as
    /// its precision tells: a month- or year-precision date counts as new only when even
    /// its first possible day is that recent, so no release is called new on a guessed day.
    /// A date after `today` (a pre-release) is new too.
    pub fn is_new(&self, today: NaiveDate) -> bool {
        match (
            self.release_date.first_day(),
            today.checked_sub_days(Days::new(NEW_RELEASE_DAYS)),
        ) {
            (Some(first), Some(cutoff)) => first >= cutoff,
            _ => false,
        }
    }
}

/// The artist's own newest `n` releases (see [`Release::is_own_release`]), newest first;
/// equal dates keep their input order.
pub fn latest_releases(releases: &[Release], n: usize) -> Vec<Release> {
    let mut own: Vec<Release> = releases
        .iter()
        .filter(|r| r.is_own_release())
        .cloned()
        .collect();
    own.sort_by_key(|r| std::cmp::Reverse(r.release_date));
    own.truncate(n);
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> ReleaseDate {
        ReleaseDate::parse(s).unwrap()
    }

    #[test]
    fn parses_each_precision() {
        assert_eq!(date("2019"), ReleaseDate::Year(2019));
        assert_eq!(date("2019-05"), ReleaseDate::Month(2019, 5));
        assert_eq!(date("2019-05-31").precision(), DatePrecision::Day);
        for bad in [
            "",
            "19",
            "2019-13",
            "2019-02-30",
            "2019-5",
            "2019-05-1",
            "2019/05/01",
            "2019-05-01-02",
            "abcd",
        ] {
            assert!(ReleaseDate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn never_invents_a_day() {
        assert_eq!(date("2019").to_string(), "2019");
        assert_eq!(date("2019-05").to_string(), "2019-05");
        assert_eq!(date("2019-05-07").to_string(), "2019-05-07");
        assert_eq!(
            ReleaseDate::from_spotify("2019-05-07", Some("month"))
                .unwrap()
                .to_string(),
            "2019-05"
        );
        assert_eq!(
            ReleaseDate::from_spotify("2019", Some("day")).unwrap(),
            ReleaseDate::Year(2019)
        );
        let json = serde_json::to_string(&date("2019-05")).unwrap();
        assert_eq!(json, "\"2019-05\"");
        assert_eq!(
            serde_json::from_str::<ReleaseDate>(&json).unwrap(),
            date("2019-05")
        );
    }

    #[test]
    fn orders_mixed_precisions() {
        let mut dates = [
            date("2020-01-15"),
            date("2019"),
            date("2020"),
            date("2019-12"),
            date("2020-01"),
        ];
        dates.sort();
        let shown: Vec<String> = dates.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["2019", "2019-12", "2020", "2020-01", "2020-01-15"]);
    }

    #[test]
    fn compares_at_common_precision() {
        assert_eq!(
            date("2021").cmp_at_common_precision(&date("2021-03-05")),
            Ordering::Equal
        );
        assert_eq!(
            date("2021-03").cmp_at_common_precision(&date("2021-03-05")),
            Ordering::Equal
        );
        assert_eq!(
            date("2021-02").cmp_at_common_precision(&date("2021-03-05")),
            Ordering::Less
        );
        assert_eq!(
            date("2022").cmp_at_common_precision(&date("2021-12-31")),
            Ordering::Greater
        );
    }

    #[test]
    fn day_bounds() {
        assert_eq!(
            date("2024-02").last_day(),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(
            date("2023-12").last_day(),
            NaiveDate::from_ymd_opt(2023, 12, 31)
        );
        assert_eq!(
            date("2023").first_day(),
            NaiveDate::from_ymd_opt(2023, 1, 1)
        );
    }

    #[test]
    fn latest_skips_compilations_and_appearances() {
        let release = |id: &str, d: &str, album_type, primary_artist| Release {
            id: id.into(),
            name: id.into(),
            album_type,
            release_date: date(d),
            image_url: None,
            spotify_url: None,
            primary_artist,
            total_tracks: None,
        };
        let all = vec![
            release("old", "2018-01-01", AlbumType::Album, true),
            release("comp", "2021", AlbumType::Compilation, true),
            release("guest", "2021-06-01", AlbumType::Single, false),
            release("single", "2020-06", AlbumType::Single, true),
            release("new", "2020-06-02", AlbumType::Album, true),
        ];
        let ids: Vec<String> = latest_releases(&all, 2).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["new", "single"]);
    }

    #[test]
    fn new_within_thirty_days_at_the_dates_precision() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let released = |d: &str| Release {
            id: "a".into(),
            name: "a".into(),
            album_type: AlbumType::Single,
            release_date: date(d),
            image_url: None,
            spotify_url: None,
            primary_artist: true,
            total_tracks: None,
        };
        assert!(released("2026-11-25").is_new(today));
        assert!(released("2026-10-26").is_new(today), "exactly 30 days");
        assert!(!released("2026-10-25").is_new(today), "31 days");
        assert!(released("2026-12-01").is_new(today), "pre-release");
        // 2026-11 began 24 days ago: new whatever its day; 2026-10 might be older.
        assert!(released("2026-11").is_new(today));
        assert!(!released("2026-10").is_new(today));
        assert!(!released("2026").is_new(today));
    }
}
