//! Matching what users type to artist names.
//!
//! "  bts ", "BTS" and "ＢＴＳ" must find the same artist, and "방탄소년단" must stay
//! Korean. The key is: Unicode NFKC (folds full-width and compatibility forms), lower case
//! (case folding), NFKC again (lower-casing can leave a non-normalized sequence), invisible
//! format characters, control characters and bidirectional controls removed (so two names
//! that look the same are the same key), whitespace trimmed and runs of it collapsed to
//! one space.

use std::borrow::Borrow;
use std::fmt;

use serde::{Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

/// A matching key: the output of [`normalize`], and nothing else. Ports that look names up
/// (artists, aliases, the request log) take one, so a caller cannot pass raw input where a
/// key is expected.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NormalizedName(String);

/// Like the plain string, so logs and messages read as before the type existed.
impl fmt::Debug for NormalizedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl NormalizedName {
    /// The key of `raw` (a name or what a user typed): [`normalize`]`(raw)`.
    pub fn of(raw: &str) -> Self {
        Self(normalize(raw))
    }

    /// A key read back from storage, where only [`NormalizedName::of`] wrote it (the
    /// artists' `normalized_name`, aliases, the request log): trusted as is, not
    /// normalized again, so what the store holds is what the caller sees.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// True for the key of blank input (see [`is_blank`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for NormalizedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for NormalizedName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for NormalizedName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<NormalizedName> for String {
    fn from(name: NormalizedName) -> String {
        name.0
    }
}

impl PartialEq<str> for NormalizedName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for NormalizedName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for NormalizedName {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl Serialize for NormalizedName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Characters that carry no meaning for matching and are dropped: zero-width and
/// byte-order characters users paste along with names, control characters other than
/// whitespace (C0, DEL, C1), and the bidirectional controls (marks, embeddings, overrides,
/// isolates) that make one string look like another.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    ) || (c.is_control() && !c.is_whitespace())
        || is_bidi_control(c)
}

/// The Unicode bidirectional formatting characters (UAX #9): ALM, LRM, RLM, the
/// embeddings and overrides LRE…RLO, and the isolates LRI…PDI.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The matching key for a name or an utterance. Idempotent; empty only for blank input.
pub fn normalize(input: &str) -> String {
    // Dropped before composing too, so a mark after a dropped character composes with
    // its base on the first pass and the key stays idempotent.
    let folded: String = input
        .chars()
        .filter(|c| !is_invisible(*c))
        .nfkc()
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .collect();
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// True when the input holds nothing but whitespace and invisible characters, which is
/// exactly when [`normalize`] returns an empty string.
pub fn is_blank(input: &str) -> bool {
    input.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn latin_variants_match() {
        assert_eq!(normalize("  bts "), "bts");
        assert_eq!(normalize("BTS"), "bts");
        assert_eq!(normalize("ＢＴＳ"), "bts");
        assert_eq!(normalize("Red\t  Velvet\n"), "red velvet");
        assert_eq!(normalize("BTS\u{200B}"), "bts");
    }

    #[test]
    fn control_and_bidi_characters_are_dropped() {
        assert_eq!(normalize("B\u{0}T\u{1b}[31mS"), "bt[31ms");
        assert_eq!(normalize("BTS\u{7f}\u{85}\u{9b}"), "bts");
        assert_eq!(normalize("\u{202E}STB\u{202C}"), "stb");
        assert_eq!(
            normalize("\u{2067}BTS\u{2069}\u{200E}\u{200F}\u{61C}"),
            "bts"
        );
        assert_eq!(normalize("Red\u{202D} Velvet"), normalize("Red Velvet"));
        assert!(is_blank("\u{202E}\u{1}\u{2066}"));
    }

    #[test]
    fn korean_is_kept() {
        assert_eq!(normalize(" 방탄소년단 "), "방탄소년단");
        // Conjoining jamo compose to the same syllables as precomposed input.
        assert_eq!(normalize("\u{1100}\u{1161}"), "가");
    }

    #[test]
    fn normalized_name_is_the_key() {
        assert_eq!(NormalizedName::of("  ＢＴＳ "), "bts");
        assert_eq!(
            NormalizedName::of("Red  Velvet").as_str(),
            normalize("Red Velvet")
        );
        assert!(NormalizedName::of(" \u{200B}").is_empty());
        assert_eq!(
            NormalizedName::from_stored("bts".into()),
            NormalizedName::of("BTS")
        );
    }

    #[test]
    fn blank_is_empty() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" \t\u{3000}\u{200B} "), "");
        assert!(is_blank(" \u{3000}"));
        assert!(!is_blank(" a "));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn idempotent(s in any::<String>()) {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once.clone());
        }

        #[test]
        fn empty_only_when_blank(s in any::<String>()) {
            prop_assert_eq!(normalize(&s).is_empty(), is_blank(&s));
        }

        #[test]
        fn no_control_or_bidi_characters_remain(s in any::<String>()) {
            let n = normalize(&s);
            prop_assert!(!n.chars().any(|c| c.is_control() || is_bidi_control(c)), "{:?}", n);
        }

        #[test]
        fn no_edge_or_double_spaces(s in "\\PC{0,40}") {
            let n = normalize(&s);
            prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
        }

        #[test]
        fn case_and_width_insensitive(s in "[a-zA-Z0-9 ]{1,30}") {
            let wide: String = s.chars().map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
                _ => c,
            }).collect();
            prop_assert_eq!(normalize(&s.to_uppercase()), normalize(&s));
            prop_assert_eq!(normalize(&wide), normalize(&s));
        }
    }
}
