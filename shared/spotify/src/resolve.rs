//! Choosing the artist a query means among Spotify's search results, not blindly the
//! first one.

use std::fmt;

use encore_domain::{normalize, Artist};

/// Which rule chose the artist; logged with every resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchReason {
    /// A result's normalized name equals the normalized query (the most popular such
    /// result when there are several).
    ExactName,
    /// No exact match; the most popular result whose name is close to the query (a small
    /// edit distance, or the name containing the query as whole words).
    CloseName,
    /// The query and the names are in different scripts (방탄소년단 / BTS), so names
    /// cannot be compared; Spotify matched on an alias it knows, and its first result is
    /// taken.
    OtherScript,
}

impl MatchReason {
    /// A stable snake_case label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExactName => "exact_name",
            Self::CloseName => "close_name",
            Self::OtherScript => "other_script",
        }
    }
}

impl fmt::Display for MatchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The artist a query resolved to, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub artist: Artist,
    pub reason: MatchReason,
}

/// The words of `name` as a Spotify search query, with the search syntax neutralised so
/// that the query means just these words: double quotes (phrases), `:` (a `field:` filter
/// such as `artist:`, `genre:` or `year:`, and what makes `Sixx:A.M.` a filter on a field
/// `sixx`) and `*` (a wildcard) become spaces; a leading `-` or `+` (exclude / require)
/// is dropped from each word; the operators `NOT`, `OR` and `AND`, which Spotify reads
/// only in upper case, are lowered to plain words. Letters, digits and other punctuation
/// stay, so `Bobby "Blue" Bland` is searched as `Bobby Blue Bland` and `-M-` as `M-`.
/// Empty when nothing searchable is left.
pub fn search_keywords(name: &str) -> String {
    let spaced: String = name
        .chars()
        .map(|c| if matches!(c, '"' | ':' | '*') { ' ' } else { c })
        .collect();
    let words: Vec<String> = spaced
        .split_whitespace()
        .map(|word| word.trim_start_matches(['-', '+']))
        .filter(|word| !word.is_empty())
        .map(|word| match word {
            "NOT" | "OR" | "AND" => word.to_lowercase(),
            _ => word.to_owned(),
        })
        .collect();
    words.join(" ")
}

/// Picks the artist `query` means from search `results` (in Spotify's order), or `None`
/// when no result is a credible match.
pub fn choose_artist(query: &str, results: &[Artist]) -> Option<(usize, MatchReason)> {
    let wanted = normalize(query);
    if wanted.is_empty() {
        return None;
    }
    let names: Vec<String> = results.iter().map(|a| normalize(&a.name)).collect();
    let most_popular = |indexes: Vec<usize>| -> Option<usize> {
        // max_by_key keeps the last maximum; iterate in reverse so ties go to the earlier
        // (more relevant) result, and a missing popularity ranks lowest.
        indexes
            .into_iter()
            .rev()
            .max_by_key(|&i| results[i].popularity.map_or(0, |p| p + 1))
    };
    let exact: Vec<usize> = (0..results.len()).filter(|&i| names[i] == wanted).collect();
    if let Some(i) = most_popular(exact) {
        return Some((i, MatchReason::ExactName));
    }
    let close: Vec<usize> = (0..results.len())
        .filter(|&i| is_close(&wanted, &names[i]))
        .collect();
    if let Some(i) = most_popular(close) {
        return Some((i, MatchReason::CloseName));
    }
    let query_scripts = scripts(&wanted);
    match names.first() {
        Some(first)
            if query_scripts != 0 && scripts(first) != 0 && scripts(first) & query_scripts == 0 =>
        {
            Some((0, MatchReason::OtherScript))
        }
        _ => None,
    }
}

/// Close names: within a small edit distance (one edit per four characters, at least
/// one), or the name containing the query as a run of whole words ("Red Velvet - IRENE &
/// SEULGI" for "red velvet"; not the reverse, or "The" would match "the weeknd").
fn is_close(wanted: &str, name: &str) -> bool {
    let shorter = wanted.chars().count().min(name.chars().count());
    let allowed = (shorter / 4).max(1);
    contains_words(name, wanted) || edit_distance(wanted, name) <= allowed
}

/// True when `needle`'s words appear in `haystack` as consecutive whole words.
fn contains_words(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let padded = format!(" {haystack} ");
    padded.contains(&format!(" {needle} "))
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

const LATIN: u8 = 1;
const HANGUL: u8 = 2;
const KANA: u8 = 4;
const HAN: u8 = 8;
const CYRILLIC: u8 = 16;
const OTHER: u8 = 32;

/// The scripts of the letters in `text`, as a bit set (digits and punctuation ignored).
fn scripts(text: &str) -> u8 {
    text.chars()
        .filter(|c| c.is_alphabetic())
        .fold(0, |set, c| {
            set | match u32::from(c) {
                0..=0x024F | 0x1E00..=0x1EFF => LATIN,
                0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7A3 => HANGUL,
                0x3040..=0x30FF => KANA,
                0x4E00..=0x9FFF => HAN,
                0x0400..=0x04FF => CYRILLIC,
                _ => OTHER,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artist(name: &str, popularity: Option<u32>) -> Artist {
        Artist {
            // Any id: choosing goes by name and popularity only.
            id: name
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .parse()
                .unwrap(),
            name: name.into(),
            popularity,
            followers: None,
            genres: Vec::new(),
            image_url: None,
            spotify_url: None,
        }
    }

    #[test]
    fn exact_beats_more_popular_near_match() {
        let results = vec![artist("Nova Twins", Some(80)), artist("NOVA", Some(20))];
        assert_eq!(
            choose_artist("nova", &results),
            Some((1, MatchReason::ExactName))
        );
    }

    #[test]
    fn most_popular_close_name() {
        let results = vec![
            artist("Red Velvet - IRENE & SEULGI", Some(60)),
            artist("Red Velvet", Some(70)),
            artist("Velvet", Some(90)),
        ];
        assert_eq!(
            choose_artist("red velvett", &results),
            Some((1, MatchReason::CloseName))
        );
        let results = vec![
            artist("Daft Punk Tribute", Some(10)),
            artist("Daft Punkk", Some(30)),
        ];
        assert_eq!(
            choose_artist("daft punk", &results),
            Some((1, MatchReason::CloseName))
        );
    }

    #[test]
    fn other_script_takes_spotifys_first() {
        let results = vec![artist("BTS", Some(90)), artist("BTS Piano", Some(30))];
        assert_eq!(
            choose_artist("방탄소년단", &results),
            Some((0, MatchReason::OtherScript))
        );
    }

    #[test]
    fn unrelated_results_are_no_match() {
        let results = vec![artist("Coldplay", Some(90))];
        assert_eq!(choose_artist("xqzvvq", &results), None);
        assert_eq!(choose_artist("  ", &results), None);
        assert_eq!(choose_artist("bts", &[]), None);
    }

    #[test]
    fn search_syntax_is_neutralised() {
        for (name, query) in [
            ("Sixx:A.M.", "Sixx A.M."),
            ("Format:B", "Format B"),
            ("CASP:R", "CASP R"),
            ("Bobby \"Blue\" Bland", "Bobby Blue Bland"),
            (
                "\"Dear Evan Hansen\" August 2018 Broadway Cast",
                "Dear Evan Hansen August 2018 Broadway Cast",
            ),
            ("Royce Da 5'9\"", "Royce Da 5'9"),
            ("-M-", "M-"),
            ("+44 artist:x genre:rock", "44 artist x genre rock"),
            ("IZ*ONE", "IZ ONE"),
            ("Was (Not Was)", "Was (Not Was)"),
            ("Salt OR Pepa AND NOT Us", "Salt or Pepa and not Us"),
            ("Jay-Z", "Jay-Z"),
            ("방탄소년단", "방탄소년단"),
            ("!!!", "!!!"),
            (" \" : - ", ""),
        ] {
            assert_eq!(search_keywords(name), query, "{name}");
        }
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("방탄", "방탄"), 0);
    }
}
