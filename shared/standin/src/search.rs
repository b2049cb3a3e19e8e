//! Spotify's search query syntax, as the Web API reference and Spotify's search help
//! describe it, and the word matching the stand-in's catalog search uses.
//!
//! - Keywords match in any order, case-insensitively; a keyword matches a word of a name
//!   that starts with it (`beyon` finds Beyoncé).
//! - `"a quoted phrase"` matches those words in a row, whole words.
//! - `field:value` and `field:"quoted value"` are filters: `artist`, `track`, `album`
//!   and `year` (`2019` or `1990-1999`) are matched; `genre`, `isrc`, `upc`, `tag`,
//!   `label` and any other `letters:` prefix are filters on data the catalog does not have
//!   (and must never derive from the data set's genre labels), so they match nothing.
//!   This is why `Sixx:A.M.` sent unescaped finds nothing: it is a filter on a field
//!   called `sixx`.
//! - `NOT x` and `-x` exclude; `x OR y` matches either; `AND` and `+x` are the default
//!   conjunction. Operators count only in upper case.
//! - Words are runs of letters and digits after [`normalize`]; punctuation separates
//!   words (`Sixx:A.M.` is the words `sixx a m`). A name with no letter or digit at all
//!   (`!!!`) is one word, its normalized text.

use encore_domain::normalize;

/// The words of `text`: runs of letters and digits of its normalized form, or, when it
/// has none, its normalized text without spaces as one word (empty for blank text).
pub fn words(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let found: Vec<String> = normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    if found.is_empty() && !normalized.is_empty() {
        return vec![normalized.split_whitespace().collect()];
    }
    found
}

/// A field a filter names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Artist,
    Track,
    Album,
    /// An inclusive range of release years; an unreadable year matches nothing.
    Year(Option<(u32, u32)>),
    /// `genre`, `isrc`, `upc`, `tag`, `label` or an unknown field: nothing to match on.
    Unmatched(String),
}

impl Field {
    fn named(name: &str, value: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "artist" => Self::Artist,
            "track" => Self::Track,
            "album" => Self::Album,
            "year" => Self::Year(year_range(value)),
            other => Self::Unmatched(other.to_owned()),
        }
    }
}

/// `2019` → (2019, 2019); `1990-1999` → (1990, 1999).
fn year_range(value: &str) -> Option<(u32, u32)> {
    let (from, to) = value.split_once('-').unwrap_or((value, value));
    let (from, to) = (from.trim().parse().ok()?, to.trim().parse().ok()?);
    (from <= to).then_some((from, to))
}

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Free keywords: every word matches the start of some word of the item.
    Keywords(Vec<String>),
    /// A quoted phrase: its words in a row, whole words.
    Phrase(Vec<String>),
    /// `field:value`; `phrase` when the value was quoted.
    Filter {
        field: Field,
        words: Vec<String>,
        phrase: bool,
    },
}

/// Terms joined by `OR` (usually one), possibly excluded by `NOT` / `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub excluded: bool,
    pub any_of: Vec<Term>,
}

/// A parsed search `q`: an item matches when it matches every included clause (at least
/// one is needed) and no excluded one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub clauses: Vec<Clause>,
}

/// Whether an `artist:` value names the candidate artist by one of its aliases.
pub type AliasOf<'a> = &'a dyn Fn(&str) -> bool;

/// What one catalog item offers to match on.
pub struct Candidate<'a> {
    /// Words free keywords and phrases match (an artist's name; a track's name and its
    /// artist's name).
    pub keyword_fields: &'a [&'a [String]],
    /// The artist's name words, and whether an `artist:` value is an alias of it.
    pub artist: Option<(&'a [String], AliasOf<'a>)>,
    pub track: Option<&'a [String]>,
    pub album: Option<&'a [String]>,
    /// Release years the item has (a track: its album's; an artist: its albums').
    pub years: &'a [u32],
}

impl SearchQuery {
    /// Parses Spotify's query syntax.
    pub fn parse(q: &str) -> Self {
        let mut clauses: Vec<Clause> = Vec::new();
        let mut punctuation: Vec<String> = Vec::new();
        let (mut excluded, mut or_pending) = (false, false);
        for token in tokens(q) {
            match token {
                "NOT" => {
                    excluded = true;
                    continue;
                }
                "OR" => {
                    or_pending = !clauses.is_empty();
                    continue;
                }
                "AND" => continue,
                _ => {}
            }
            let (sign, body) = match token.as_bytes().first() {
                Some(b'-') => (true, &token[1..]),
                Some(b'+') => (false, &token[1..]),
                _ => (false, token),
            };
            let Some(found) = term(body) else {
                if !body.trim().is_empty() {
                    punctuation.push(body.to_owned());
                }
                continue;
            };
            let excluded_now = excluded || sign;
            let joins = or_pending && clauses.last().is_some_and(|c| c.excluded == excluded_now);
            match clauses.last_mut() {
                Some(last) if joins => last.any_of.push(found),
                _ => {
                    let clause = Clause {
                        excluded: excluded_now,
                        any_of: vec![found],
                    };
                    clauses.push(clause);
                }
            }
            excluded = false;
            or_pending = false;
        }
        if clauses.is_empty() && !punctuation.is_empty() {
            let word: String = punctuation.iter().map(|p| normalize(p)).collect();
            clauses.push(Clause {
                excluded: false,
                any_of: vec![Term::Keywords(vec![word])],
            });
        }
        Self { clauses }
    }

    /// True when nothing can match (no included clause).
    pub fn is_empty(&self) -> bool {
        self.clauses.iter().all(|c| c.excluded)
    }

    /// The words of the included keywords and phrases, in order: what a name is ranked
    /// against.
    pub fn keyword_words(&self) -> Vec<&str> {
        self.included()
            .flat_map(|c| c.any_of.first())
            .filter_map(|t| match t {
                Term::Keywords(w) | Term::Phrase(w) => Some(w),
                Term::Filter { .. } => None,
            })
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// The words of the first included `artist:` filter.
    pub fn artist_filter_words(&self) -> Option<&[String]> {
        self.included()
            .flat_map(|c| c.any_of.first())
            .find_map(|t| match t {
                Term::Filter {
                    field: Field::Artist,
                    words,
                    ..
                } => Some(words.as_slice()),
                _ => None,
            })
    }

    /// The longest word an item must contain (as the start of one of its words) in the
    /// given keyword fields, for an index lookup: from an included single-term keyword or
    /// phrase clause.
    pub fn required_word(&self) -> Option<&str> {
        self.included()
            .filter(|c| c.any_of.len() == 1)
            .filter_map(|c| match &c.any_of[0] {
                Term::Keywords(w) | Term::Phrase(w) => Some(w),
                Term::Filter { .. } => None,
            })
            .flatten()
            .map(String::as_str)
            .max_by_key(|w| w.len())
    }

    fn included(&self) -> impl Iterator<Item = &Clause> {
        self.clauses.iter().filter(|c| !c.excluded)
    }

    /// True when `item` matches the query.
    pub fn matches(&self, item: &Candidate<'_>) -> bool {
        !self.is_empty()
            && self
                .clauses
                .iter()
                .all(|c| c.any_of.iter().any(|t| term_matches(t, item)) != c.excluded)
    }
}

fn term_matches(term: &Term, item: &Candidate<'_>) -> bool {
    match term {
        Term::Keywords(words) => words.iter().all(|w| {
            item.keyword_fields
                .iter()
                .any(|field| field.iter().any(|v| v.starts_with(w.as_str())))
        }),
        Term::Phrase(words) => item
            .keyword_fields
            .iter()
            .any(|field| contains_run(field, words)),
        Term::Filter {
            field,
            words,
            phrase,
        } => {
            let text_matches = |field: Option<&[String]>| {
                field.is_some_and(|f| {
                    if *phrase {
                        contains_run(f, words)
                    } else {
                        words
                            .iter()
                            .all(|w| f.iter().any(|v| v.starts_with(w.as_str())))
                    }
                })
            };
            match field {
                Field::Artist => item.artist.is_some_and(|(name, is_alias)| {
                    is_alias(&words.join(" ")) || text_matches(Some(name))
                }),
                Field::Track => text_matches(item.track),
                Field::Album => text_matches(item.album),
                Field::Year(Some((from, to))) => {
                    item.years.iter().any(|y| (*from..=*to).contains(y))
                }
                Field::Year(None) | Field::Unmatched(_) => false,
            }
        }
    }
}

/// True when `run` appears in `words` as consecutive whole words (an empty run never).
fn contains_run(words: &[String], run: &[String]) -> bool {
    !run.is_empty() && words.windows(run.len()).any(|window| window == run)
}

/// The term a token (without its sign) stands for; `None` when it has no words.
fn term(token: &str) -> Option<Term> {
    if let Some((name, value)) = token.split_once(':') {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()) {
            let phrase = value.starts_with('"');
            let value = value.trim_matches('"');
            return Some(Term::Filter {
                field: Field::named(name, value),
                words: words(value),
                phrase,
            });
        }
    }
    if token.starts_with('"') {
        let words = words(token.trim_matches('"'));
        return (!words.is_empty()).then_some(Term::Phrase(words));
    }
    let words = alphanumeric_words(&token.replace('"', " "));
    (!words.is_empty()).then_some(Term::Keywords(words))
}

/// The runs of letters and digits of `text`, normalized (no fallback for punctuation).
fn alphanumeric_words(text: &str) -> Vec<String> {
    normalize(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The whitespace-separated tokens of `q`; a double quote opens a run, up to the next
/// one or the end, in which whitespace does not separate.
fn tokens(q: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (None, false);
    for (i, c) in q.char_indices() {
        if c == '"' {
            quoted = !quoted;
        }
        match (c.is_whitespace() && !quoted, start) {
            (true, Some(s)) => {
                out.push(&q[s..i]);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&q[s..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| (*s).to_owned()).collect()
    }

    fn finds(q: &str, name: &str) -> bool {
        let name = words(name);
        let fields = [name.as_slice()];
        let no_alias = |_: &str| false;
        let item = Candidate {
            keyword_fields: &fields,
            artist: Some((&name, &no_alias)),
            track: None,
            album: None,
            years: &[2019],
        };
        SearchQuery::parse(q).matches(&item)
    }

    #[test]
    fn words_split_on_punctuation() {
        assert_eq!(words("Sixx:A.M."), w(&["sixx", "a", "m"]));
        assert_eq!(
            words("Bobby \"Blue\" Bland"),
            w(&["bobby", "blue", "bland"])
        );
        assert_eq!(words("방탄소년단"), w(&["방탄소년단"]));
        assert_eq!(words("!!!"), w(&["!!!"]));
        assert!(words("  ").is_empty());
    }

    #[test]
    fn parses_filters_operators_and_phrases() {
        let q = SearchQuery::parse(r#"artist:"Red Velvet" track:Psycho  love genre:pop"#);
        assert_eq!(
            q.artist_filter_words(),
            Some(w(&["red", "velvet"]).as_slice())
        );
        assert_eq!(q.keyword_words(), vec!["love"]);
        assert_eq!(q.clauses.len(), 4);
        assert!(!SearchQuery::parse("genre:pop").is_empty());
        assert!(SearchQuery::parse("NOT pop").is_empty());
        assert!(SearchQuery::parse("-M-").is_empty());
        let q = SearchQuery::parse("zeppelin OR floyd");
        assert_eq!(q.clauses.len(), 1);
        assert_eq!(q.clauses[0].any_of.len(), 2);
    }

    #[test]
    fn syntax_changes_what_a_name_query_finds() {
        // Keywords: any order, word prefixes.
        assert!(finds("bland bobby", "Bobby \"Blue\" Bland"));
        assert!(finds("Bob Bla", "Bobby \"Blue\" Bland"));
        // A phrase: whole words in a row.
        assert!(finds("\"blue bland\"", "Bobby \"Blue\" Bland"));
        assert!(!finds("\"bland blue\"", "Bobby \"Blue\" Bland"));
        assert!(!finds("\"blu\" bobby", "Bobby \"Blue\" Bland"));
        assert!(finds("Royce Da 5'9\"", "Royce Da 5'9\""));
        assert!(!finds("\"Da Royce\"", "Royce Da 5'9\""));
        // A `letters:` prefix is a filter, not a word.
        assert!(!finds("Sixx:A.M.", "Sixx:A.M."));
        assert!(finds("Sixx A.M.", "Sixx:A.M."));
        assert!(!finds("Metalocalypse: Dethklok", "Metalocalypse: Dethklok"));
        assert!(finds("M3:LO", "M3:LO"), "a field name is letters only");
        // Exclusion and operators (upper case only).
        assert!(!finds("-M-", "-M-"));
        assert!(finds("M-", "-M-"));
        assert!(!finds("Was NOT Was", "Was (Not Was)"));
        assert!(finds("Was Not Was", "Was (Not Was)"));
        assert!(finds("Kyuss OR Floyd", "Pink Floyd"));
        assert!(!finds("Kyuss AND Floyd", "Pink Floyd"));
        // Filters the catalog can match.
        assert!(finds("artist:bobby year:2010-2020", "Bobby \"Blue\" Bland"));
        assert!(!finds("artist:bobby year:1990", "Bobby \"Blue\" Bland"));
        assert!(!finds("bobby genre:blues", "Bobby \"Blue\" Bland"));
        // A name of punctuation only.
        assert!(finds("!!!", "!!!"));
    }
}
