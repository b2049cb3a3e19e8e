//! MySQL statements with their values written into the text as literals, for the text
//! protocol (`COM_QUERY`). RDS Proxy pins a client connection to one database connection
//! for every prepared statement, whether made with SQL text or the binary protocol, and
//! sqlx prepares every query that has binds (even with `persistent(false)`): statements
//! built here and run with `sqlx::raw_sql` let the proxy multiplex. AWS's list of what
//! pins: <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html>.
//!
//! Strings are written as hex literals with a character-set introducer (`_utf8mb4
//! X'…'`), so no byte of a value is ever read as SQL whatever the server's `sql_mode`
//! (`NO_BACKSLASH_ESCAPES` included); their collation is coercible, so a column's own
//! collation decides comparisons and indexes still apply.

use std::fmt::Write;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use encore_domain::{ArtistId, NormalizedName};

use crate::BackendError;

/// RDS Proxy pins a session for any statement longer than 16 KB (the page above); the
/// statements built here stay under this.
pub(crate) const MAX_STATEMENT_BYTES: usize = 16 * 1024;

/// A value that can be written into SQL text as a literal.
pub(crate) trait Literal {
    /// Appends the literal to `out`.
    fn write_to(&self, out: &mut String) -> Result<(), BackendError>;
}

impl Literal for str {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        out.push_str("_utf8mb4 X'");
        for byte in self.as_bytes() {
            let _ = write!(out, "{byte:02X}");
        }
        out.push('\'');
        Ok(())
    }
}

impl Literal for String {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        self.as_str().write_to(out)
    }
}

impl Literal for ArtistId {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        self.as_str().write_to(out)
    }
}

impl Literal for NormalizedName {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        self.as_str().write_to(out)
    }
}

impl<T: Literal + ?Sized> Literal for &T {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        (**self).write_to(out)
    }
}

impl<T: Literal> Literal for Option<T> {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        match self {
            Some(value) => value.write_to(out),
            None => {
                out.push_str("NULL");
                Ok(())
            }
        }
    }
}

macro_rules! integer_literal {
    ($($t:ty),*) => {$(
        impl Literal for $t {
            fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
                let _ = write!(out, "{self}");
                Ok(())
            }
        }
    )*};
}
integer_literal!(i32, i64, u16, u32, u64);

impl Literal for f64 {
    /// Exponent notation (`5e-1`), which MySQL reads as a DOUBLE, with Rust's shortest
    /// digits that read back to the same value.
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        if !self.is_finite() {
            return Err(BackendError::rejected(format!(
                "{self} cannot be stored (not a finite number)"
            )));
        }
        let _ = write!(out, "{self:e}");
        Ok(())
    }
}

impl Literal for NaiveDateTime {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        let _ = write!(out, "'{}'", self.format("%Y-%m-%d %H:%M:%S%.6f"));
        Ok(())
    }
}

impl Literal for DateTime<Utc> {
    /// The UTC wall time, as sqlx binds it: the columns are `DATETIME`, which carry no
    /// zone and are not converted by the session's `time_zone`.
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        self.naive_utc().write_to(out)
    }
}

impl Literal for NaiveDate {
    fn write_to(&self, out: &mut String) -> Result<(), BackendError> {
        let _ = write!(out, "'{}'", self.format("%Y-%m-%d"));
        Ok(())
    }
}

/// `template` with each `?` replaced by the next of `values`, as a literal. The templates
/// are this crate's own SQL, whose only question marks are placeholders.
pub(crate) fn inline(template: &str, values: &[&dyn Literal]) -> Result<String, BackendError> {
    let mut out = String::with_capacity(template.len() + 32 * values.len());
    let mut values = values.iter();
    for (i, part) in template.split('?').enumerate() {
        if i > 0 {
            values
                .next()
                .ok_or_else(|| BackendError::rejected(format!("too few values for {template:?}")))?
                .write_to(&mut out)?;
        }
        out.push_str(part);
    }
    if values.next().is_some() {
        return Err(BackendError::rejected(format!(
            "too many values for {template:?}"
        )));
    }
    Ok(out)
}

/// A comma-separated list of literals, for `IN (…)`.
pub(crate) fn list<T: Literal>(values: &[T]) -> Result<String, BackendError> {
    let mut out = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        value.write_to(&mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_become_hex_so_no_byte_is_read_as_sql() {
        let sql = inline(
            "SELECT ? , ?",
            &[&"'; DROP TABLE artists; --", &"방탄\\소년단"],
        )
        .unwrap();
        assert!(!sql.contains("DROP"), "{sql}");
        assert!(sql.starts_with("SELECT _utf8mb4 X'273B2044524F50"), "{sql}");
        assert_eq!(sql.matches("_utf8mb4 X'").count(), 2);
        assert_eq!(inline("?", &[&""]).unwrap(), "_utf8mb4 X''");
    }

    #[test]
    fn numbers_dates_and_nulls() {
        let at = DateTime::parse_from_rfc3339("2026-12-02T03:04:05.678Z")
            .unwrap()
            .with_timezone(&Utc);
        let date = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let none: Option<u32> = None;
        let sql = inline(
            "? ? ? ? ? ?",
            &[&42_u32, &-7_i64, &0.1_f64, &at, &date, &none],
        )
        .unwrap();
        assert_eq!(
            sql,
            "42 -7 1e-1 '2026-12-02 03:04:05.678000' '2026-12-02' NULL"
        );
        assert_eq!("1e-1".parse::<f64>().unwrap(), 0.1);
        assert!(inline("?", &[&f64::NAN]).is_err());
        assert!(inline("? ?", &[&1_u32]).is_err());
        assert!(inline("?", &[&1_u32, &2_u32]).is_err());
        assert_eq!(list(&["a", "b"]).unwrap(), "_utf8mb4 X'61', _utf8mb4 X'62'");
    }
}
