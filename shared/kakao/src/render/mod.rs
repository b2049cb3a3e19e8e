//! encore's answers as Kakao bubbles: plain functions over domain data, used by the chat
//! and by ingest's callback alike, so both send the same cards.
//!
//! Every function returns an answer that passes [`limits::validate`]: an artist answer is
//! rendered with a generous budget first and re-rendered with smaller ones (fewer rows and
//! cards, shorter texts, no pictures) until it fits; the last resort is its header text.

mod budget;
mod cards;
mod links;
#[cfg(test)]
mod tests;
mod texts;

use chrono::NaiveDate;
use encore_domain::{Artist, Release, Track};
use serde_json::{Map, Value};

use crate::limits::{self, truncate};
use crate::response::{Component, QuickReply, SimpleText, SkillResponse};
use budget::{fits, BUDGETS};
use cards::render_artist;

pub use links::youtube_search_url;

/// Similar artists shown beside the asked one: a listCard carousel holds five cards.
pub const MAX_SIMILAR: usize = limits::MAX_LIST_CARD_CAROUSEL_ITEMS - 1;
/// Rows a card gives its latest release (the first row, when the release is known).
pub const RELEASE_ROWS: usize = 1;
/// Track rows per artist card at most: a carousel card holds
/// [`limits::MAX_LIST_ITEMS_IN_CAROUSEL`] rows, and the latest release takes one.
pub const MAX_TRACK_ROWS: usize = limits::MAX_LIST_ITEMS_IN_CAROUSEL - RELEASE_ROWS;
/// "Did you mean" names offered with a not-found answer at most.
pub const MAX_SUGGESTIONS: usize = 4;
/// The label of each card's YouTube button.
pub const YOUTUBE_LABEL: &str = "YouTube";
/// Characters of a name put into a search URL or quoted in a sentence.
const QUOTED_NAME_CHARS: usize = 40;
/// Longest name offered as a quick reply: longer ones could not be asked for again.
const MAX_QUICK_REPLY_NAME_CHARS: usize = 100;
/// Examples offered by the help answer.
const EXAMPLES: [&str; 3] = ["BTS", "아이유", "Red Velvet"];

/// An artist with what its card shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtistCard {
    pub artist: Artist,
    /// Top tracks by rank; the first few become the card's rows.
    pub tracks: Vec<Track>,
    /// The artist's newest release, shown as the first row when known.
    pub latest_release: Option<LatestRelease>,
}

impl ArtistCard {
    /// A card of `artist` with its top tracks and no release.
    pub fn new(artist: Artist, tracks: Vec<Track>) -> Self {
        Self {
            artist,
            tracks,
            latest_release: None,
        }
    }
}

/// The artist's newest release as its card shows it: the release, and whether it is new
/// (decided by the caller, who knows today's date: see [`Release::is_new`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LatestRelease {
    pub release: Release,
    pub new: bool,
}

impl LatestRelease {
    /// `release` as shown on `today` (a date in [`encore_domain::SERVICE_TZ`]).
    pub fn as_of(release: Release, today: NaiveDate) -> Self {
        let new = release.is_new(today);
        Self { release, new }
    }
}

/// When an artist without similar artists yet will have them: what its answer promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelatedDue {
    /// Within this many minutes: a catch-up run of the job follows new artists.
    Within { minutes: u32 },
    /// At the job's next run, the daily one at 03:00 (KST).
    #[default]
    NextRun,
}

impl RelatedDue {
    /// Within `minutes` when a catch-up interval is configured (and not zero), else at
    /// the next run.
    pub fn from_minutes(minutes: Option<u32>) -> Self {
        match minutes {
            Some(minutes) if minutes > 0 => Self::Within { minutes },
            _ => Self::NextRun,
        }
    }
}

/// The answer about a known artist: with `similar` artists, a header, a carousel of
/// cards (the artist first) and quick replies with the similar names; without, the
/// artist's card and a note saying when recommendations appear (`due`).
pub fn artist_answer(card: &ArtistCard, similar: &[ArtistCard], due: RelatedDue) -> SkillResponse {
    let header = if similar.is_empty() {
        texts::without_related(&card.artist.name, due)
    } else {
        texts::with_related(&card.artist.name)
    };
    let fitting = BUDGETS
        .iter()
        .map(|budget| render_artist(&header, card, similar, budget))
        .find(fits);
    fitting.unwrap_or_else(|| text_answer(&header, Vec::new()))
}

/// The answer while an unknown artist is looked up and no callback is possible: what
/// happens, and a quick reply to ask again.
pub fn looking_up(query: &str) -> SkillResponse {
    with_ask_again(&texts::looking_up(query.trim()), query)
}

/// The answer through a callback when the artist is not ready before the callback
/// expires: still looking, and a quick reply to ask again.
pub fn still_looking(query: &str) -> SkillResponse {
    with_ask_again(&texts::still_looking(query), query)
}

/// The answer when the last request for the name failed for good and it is requested
/// again: said plainly, with a quick reply to ask again.
pub fn retrying(query: &str) -> SkillResponse {
    with_ask_again(&texts::retrying(query), query)
}

/// A text answer with the "ask again" quick reply sending `query` (none when it could
/// not be sent back).
fn with_ask_again(text: &str, query: &str) -> SkillResponse {
    let query = query.trim();
    let replies = if query.is_empty() || limits::char_len(query) > MAX_QUICK_REPLY_NAME_CHARS {
        Vec::new()
    } else {
        vec![QuickReply::message(texts::ASK_AGAIN, query)]
    };
    text_answer(text, replies)
}

/// The callback acknowledgement while an unknown artist is looked up: the real answer is
/// POSTed to the callback URL; `data.text` fills the block's waiting message.
pub fn waiting(query: &str) -> SkillResponse {
    let mut data = Map::new();
    data.insert("text".to_owned(), Value::String(texts::waiting(query)));
    SkillResponse::callback(data)
}

/// The answer when the catalog has no artist by that name: "did you mean" quick replies
/// with the first [`MAX_SUGGESTIONS`] of `suggestions` (known names close to the query),
/// or the examples when there are none.
pub fn not_found(query: &str, suggestions: &[String]) -> SkillResponse {
    let replies: Vec<QuickReply> = suggestions
        .iter()
        .map(|name| name.trim())
        .filter(|name| !name.is_empty() && limits::char_len(name) <= MAX_QUICK_REPLY_NAME_CHARS)
        .take(MAX_SUGGESTIONS)
        .map(|name| QuickReply::message(truncate(name, limits::MAX_QUICK_REPLY_LABEL_CHARS), name))
        .collect();
    if replies.is_empty() {
        return text_answer(&texts::not_found(query), example_replies());
    }
    text_answer(&texts::did_you_mean(query), replies)
}

/// The answer to blank or meaningless input: what to type, with examples to tap.
pub fn help() -> SkillResponse {
    text_answer(texts::HELP, example_replies())
}

/// The answer when something failed on encore's side.
pub fn failure() -> SkillResponse {
    text_answer(texts::FAILURE, Vec::new())
}

fn example_replies() -> Vec<QuickReply> {
    EXAMPLES
        .iter()
        .map(|name| QuickReply::message(*name, *name))
        .collect()
}

/// A one-bubble text answer; the text is cut to the simpleText limit.
fn text_answer(text: &str, quick_replies: Vec<QuickReply>) -> SkillResponse {
    let text = truncate(text, limits::MAX_SIMPLE_TEXT_CHARS).into_owned();
    SkillResponse::new(
        vec![Component::SimpleText(SimpleText { text })],
        quick_replies,
    )
}
