//! "Did you mean": the known names closest to what a user typed, for the not-found answer.
//!
//! Names are compared by their normalized keys ([`crate::normalize`]). Candidates are the
//! names sharing at least one character trigram with the query (padded like PostgreSQL's
//! `pg_trgm`: two spaces before, one after, so short names such as "bts" or "아이유" have
//! trigrams too); each is kept when its trigram similarity reaches [`MIN_SIMILARITY`] or
//! its edit distance (optimal string alignment: a swap of two neighbours is one edit) is
//! within what the query's length allows. The closest come first: fewest edits, then the
//! highest similarity, then the name.

use std::collections::HashMap;

/// Trigram similarity (shared / all distinct trigrams of both) from which a name is
/// suggested whatever its edit distance: `pg_trgm`'s default threshold.
pub const MIN_SIMILARITY: f64 = 0.3;

/// One known name: its matching key and what is shown (and sent when tapped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownName {
    /// The normalized key (an artist's normalized name or a learned alias).
    pub key: String,
    /// The artist's name as the catalog spells it.
    pub display: String,
}

type Trigram = [char; 3];

#[derive(Debug)]
struct Entry {
    key: Vec<char>,
    display: String,
    trigrams: usize,
}

/// An in-memory trigram index over known names.
#[derive(Debug, Default)]
pub struct NameIndex {
    entries: Vec<Entry>,
    postings: HashMap<Trigram, Vec<u32>>,
}

/// The distinct trigrams of `key`, padded, sorted.
fn trigrams(key: &[char]) -> Vec<Trigram> {
    let padded: Vec<char> = [' ', ' ']
        .into_iter()
        .chain(key.iter().copied())
        .chain([' '])
        .collect();
    let mut grams: Vec<Trigram> = padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Edits a query of `chars` characters may be away from a suggestion.
fn edits_allowed(chars: usize) -> usize {
    match chars {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    }
}

/// The optimal-string-alignment distance between `a` and `b`, or `None` when it exceeds
/// `max`.
fn distance(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    let mut rows = vec![vec![0usize; width]; 3];
    // Row i lives at i % 3: the current row, the one before and the one before that.
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        let (prev2, prev, cur) = ((i + 1) % 3, (i + 2) % 3, i % 3);
        rows[cur][0] = i;
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[prev][j] + 1)
                .min(rows[cur][j - 1] + 1)
                .min(rows[prev][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[prev2][j - 2] + 1);
            }
            rows[cur][j] = best;
            row_min = row_min.min(best);
        }
        if row_min > max {
            return None;
        }
    }
    let d = rows[a.len() % 3][b.len()];
    (d <= max).then_some(d)
}

impl NameIndex {
    /// Indexes `names`; blank keys are skipped.
    pub fn new(names: impl IntoIterator<Item = KnownName>) -> Self {
        let mut index = Self::default();
        for name in names {
            let key: Vec<char> = name.key.chars().collect();
            if key.is_empty() {
                continue;
            }
            let grams = trigrams(&key);
            let id = index.entries.len() as u32;
            for gram in &grams {
                index.postings.entry(*gram).or_default().push(id);
            }
            index.entries.push(Entry {
                key,
                display: name.display,
                trigrams: grams.len(),
            });
        }
        index
    }

    /// Names indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no name is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Up to `limit` distinct display names close to `query` (a normalized key), closest
    /// first; never a name whose key is `query` itself.
    pub fn suggest(&self, query: &str, limit: usize) -> Vec<String> {
        let query: Vec<char> = query.chars().collect();
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        let grams = trigrams(&query);
        let mut shared: HashMap<u32, usize> = HashMap::new();
        for gram in &grams {
            for id in self.postings.get(gram).into_iter().flatten() {
                *shared.entry(*id).or_default() += 1;
            }
        }
        let max_edits = edits_allowed(query.len());
        // (edits, or max + 1 when too far; similarity; display)
        let mut hits: Vec<(usize, f64, &str)> = shared
            .into_iter()
            .filter_map(|(id, common)| {
                let entry = &self.entries[id as usize];
                if entry.key == query {
                    return None;
                }
                let similarity = common as f64 / (grams.len() + entry.trigrams - common) as f64;
                let edits = distance(&query, &entry.key, max_edits);
                (edits.is_some() || similarity >= MIN_SIMILARITY).then(|| {
                    (
                        edits.unwrap_or(max_edits + 1),
                        similarity,
                        entry.display.as_str(),
                    )
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then(b.1.total_cmp(&a.1))
                .then_with(|| a.2.cmp(b.2))
        });
        let mut out: Vec<String> = Vec::with_capacity(limit);
        for (_, _, display) in hits {
            if out.len() == limit {
                break;
            }
            if !out.iter().any(|d| d == display) {
                out.push(display.to_owned());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;

    fn index(names: &[(&str, &str)]) -> NameIndex {
        NameIndex::new(names.iter().map(|(key, display)| KnownName {
            key: normalize(key),
            display: (*display).to_owned(),
        }))
    }

    fn catalog() -> NameIndex {
        index(&[
            ("BTS", "BTS"),
            ("방탄소년단", "BTS"),
            ("Blackpink", "BLACKPINK"),
            ("Red Velvet", "Red Velvet"),
            ("Red Hot Chili Peppers", "Red Hot Chili Peppers"),
            ("아이유", "아이유"),
            ("IU", "아이유"),
            ("TWICE", "TWICE"),
            ("Metallica", "Metallica"),
            ("Megadeth", "Megadeth"),
            ("Daft Punk", "Daft Punk"),
        ])
    }

    #[test]
    fn typos_find_the_name() {
        let names = catalog();
        assert_eq!(names.suggest("bst", 4), ["BTS"], "a swap is one edit");
        assert_eq!(names.suggest("blakpink", 4), ["BLACKPINK"]);
        assert_eq!(names.suggest("red velvit", 4)[0], "Red Velvet");
        assert_eq!(names.suggest("metalica", 4)[0], "Metallica");
        assert_eq!(names.suggest("방탄소년", 4), ["BTS"], "through the alias");
        assert_eq!(names.suggest("아이우", 4), ["아이유"]);
        assert_eq!(names.suggest("daft punks", 4), ["Daft Punk"]);
    }

    #[test]
    fn far_names_are_not_suggested() {
        let names = catalog();
        assert!(names.suggest("zzyzx unheard band 42", 4).is_empty());
        assert!(names.suggest("coldplay", 4).is_empty());
        assert!(names.suggest("", 4).is_empty());
        assert!(NameIndex::default().suggest("bts", 4).is_empty());
    }

    #[test]
    fn closest_first_distinct_and_limited() {
        let names = index(&[
            ("Bandz", "Bandz"),
            ("Band", "Band"),
            ("Bands", "Bands"),
            ("Band", "Band"),
            ("Bend", "Bend"),
            ("Bund", "Bund"),
            ("Bind", "Bind"),
        ]);
        // One edit away first; then by similarity (ties by name); "Bend" (two edits, one
        // shared trigram) is too far; "Band" is indexed twice but suggested once.
        assert_eq!(names.suggest("bant", 4), ["Band", "Bands", "Bandz"]);
        assert_eq!(names.suggest("bant", 2), ["Band", "Bands"]);
        assert!(names.suggest("band", 10).iter().all(|n| n != "Band"));
    }

    #[test]
    fn distance_is_bounded_osa() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(distance(&chars("abc"), &chars("abc"), 2), Some(0));
        assert_eq!(distance(&chars("abc"), &chars("acb"), 2), Some(1));
        assert_eq!(distance(&chars("kitten"), &chars("sitting"), 3), Some(3));
        assert_eq!(distance(&chars("kitten"), &chars("sitting"), 2), None);
        assert_eq!(distance(&chars(""), &chars("ab"), 2), Some(2));
        assert_eq!(distance(&chars("a"), &chars("abcd"), 2), None);
    }
}
