//! Typed Spotify ids: an [`ArtistId`] or a [`TrackId`] is checked once, where it enters
//! encore (the Spotify wire types, the data set, a database row, an event), so the ports
//! and the domain never handle an unchecked string as an id.
//!
//! Spotify's ids are 22 base-62 characters. The rule here is looser on purpose: the
//! stand-in, the fixtures and the tests use short and synthetic ids ("a1",
//! "artist-00001"), so an id is 1 to [`MAX_ID_LEN`] ASCII letters, digits, `-` or `_`.
//! That still rejects what must never reach a URL path, a key or a query: empty strings,
//! whitespace, quotes, `/`, `.`, `:`, `%`, non-ASCII.
//!
//! Both serialize as the plain string, so events, JSON and stored data are unchanged;
//! deserializing checks the rule.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id accepted (Spotify's are 22 characters; synthetic test ids are longer).
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not an id of the kind `kind` ("artist" or "track").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is empty.
    #[error("{kind} id is empty")]
    Empty { kind: &'static str },
    /// The string is longer than [`MAX_ID_LEN`] bytes.
    #[error("{kind} id is {len} bytes long, more than {MAX_ID_LEN}")]
    TooLong { kind: &'static str, len: usize },
    /// The string has a character other than ASCII letters, digits, `-` and `_`.
    #[error("{kind} id {id:?} has a character other than ASCII letters, digits, '-' and '_'")]
    Character { kind: &'static str, id: String },
}

/// Checks `id` against the id rule (see the module documentation).
fn check(kind: &'static str, id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            len: id.len(),
        });
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(IdError::Character {
            kind,
            id: id.to_owned(),
        });
    }
    Ok(())
}

macro_rules! spotify_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        /// Like the plain string, so logs and messages read as before the type existed.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl $name {
            /// What this id names, in error messages.
            pub const KIND: &'static str = $kind;

            /// The id as text (for URLs, keys and queries).
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(id: String) -> Result<Self, IdError> {
                check($kind, &id)?;
                Ok(Self(id))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(id: &str) -> Result<Self, IdError> {
                check($kind, id)?;
                Ok(Self(id.to_owned()))
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(id: &str) -> Result<Self, IdError> {
                Self::try_from(id)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::try_from(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

spotify_id!(
    /// A Spotify artist id, checked (see the module documentation).
    ArtistId,
    "artist"
);

spotify_id!(
    /// A Spotify track id, checked (see the module documentation).
    TrackId,
    "track"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spotify_and_test_ids() {
        for id in [
            "3Nrfpe0tUJi4K4DXYWgMUX",
            "a1",
            "artist-00001",
            "bad-json",
            "x_1",
            &"9".repeat(MAX_ID_LEN),
        ] {
            assert_eq!(ArtistId::try_from(id).unwrap().as_str(), id);
            assert_eq!(id.parse::<TrackId>().unwrap().to_string(), id);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            ArtistId::try_from(""),
            Err(IdError::Empty { kind: "artist" })
        );
        assert!(matches!(
            TrackId::try_from("a".repeat(MAX_ID_LEN + 1)),
            Err(IdError::TooLong { kind: "track", .. })
        ));
        for id in [
            " a1",
            "a 1",
            "a1\n",
            "\"a1\"",
            "a'1",
            "../a1",
            "a/1",
            "a\\1",
            "a.1",
            "a?1",
            "a%2F",
            "spotify:artist:a1",
            "ａ1",
            "에이",
        ] {
            assert!(
                matches!(ArtistId::try_from(id), Err(IdError::Character { .. })),
                "{id:?}"
            );
        }
    }

    #[test]
    fn serializes_as_the_plain_string() {
        let id = ArtistId::try_from("a1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"a1\"");
        assert_eq!(serde_json::from_str::<ArtistId>("\"a1\"").unwrap(), id);
        assert!(serde_json::from_str::<ArtistId>("\"a/1\"").is_err());
        assert!(serde_json::from_str::<TrackId>("\"\"").is_err());
        assert_eq!(id, "a1");
        assert_eq!(format!("{id:?}"), "\"a1\"");
    }
}
