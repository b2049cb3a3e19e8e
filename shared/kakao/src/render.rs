//! encore's answers as Kakao bubbles: plain functions over domain data, used by the chat
//! and by ingest's callback alike, so both send the same cards.
//!
//! Every function returns an answer that passes [`limits::validate`]: an artist answer is
//! rendered with a generous budget first and re-rendered with smaller ones (fewer rows and
//! cards, shorter texts, no pictures) until it fits; the last resort is its header text.

use chrono::NaiveDate;
use encore_domain::release::AlbumType;
use encore_domain::{Artist, Release, Track};
use serde_json::{Map, Value};

use crate::limits::{self, truncate};
use crate::response::{
    Button, ButtonAction, Carousel, Component, Link, ListCard, ListHeader, ListItem, QuickReply,
    SimpleText, SkillResponse,
};

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
/// Where the YouTube button searches.
const YOUTUBE_SEARCH: &str = "https://www.youtube.com/results?search_query=";
/// Where a track or artist opens when the catalog gave no URL.
const SPOTIFY_TRACK: &str = "https://open.spotify.com/track/";
const SPOTIFY_ARTIST: &str = "https://open.spotify.com/artist/";
const SPOTIFY_ALBUM: &str = "https://open.spotify.com/album/";
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

fn fits(response: &SkillResponse) -> bool {
    limits::validate(response).is_ok()
}

/// How much of an artist answer to render.
struct Budget {
    /// Similar artists' cards.
    similar: usize,
    /// Track rows per card.
    rows: usize,
    /// Characters of card titles, track titles, album names and release names.
    text_chars: usize,
    /// Row pictures (track covers and the release's cover).
    pictures: bool,
    /// The latest-release row, when the card has a release: kept in every budget but the
    /// last card-shaped one, because the card promises it.
    release: bool,
    /// The YouTube button.
    buttons: bool,
    quick_replies: bool,
}

/// From the full answer down to one bare card; tried in order.
const BUDGETS: [Budget; 8] = [
    Budget {
        similar: MAX_SIMILAR,
        rows: MAX_TRACK_ROWS,
        text_chars: 50,
        pictures: true,
        release: true,
        buttons: true,
        quick_replies: true,
    },
    Budget {
        similar: MAX_SIMILAR,
        rows: MAX_TRACK_ROWS,
        text_chars: 30,
        pictures: true,
        release: true,
        buttons: true,
        quick_replies: true,
    },
    Budget {
        similar: MAX_SIMILAR,
        rows: MAX_TRACK_ROWS,
        text_chars: 30,
        pictures: false,
        release: true,
        buttons: true,
        quick_replies: true,
    },
    Budget {
        similar: MAX_SIMILAR,
        rows: 2,
        text_chars: 20,
        pictures: false,
        release: true,
        buttons: true,
        quick_replies: true,
    },
    Budget {
        similar: 2,
        rows: 2,
        text_chars: 20,
        pictures: false,
        release: true,
        buttons: false,
        quick_replies: true,
    },
    Budget {
        similar: 1,
        rows: 1,
        text_chars: 14,
        pictures: false,
        release: true,
        buttons: false,
        quick_replies: false,
    },
    Budget {
        similar: 0,
        rows: 1,
        text_chars: 10,
        pictures: false,
        release: true,
        buttons: false,
        quick_replies: false,
    },
    Budget {
        similar: 0,
        rows: 1,
        text_chars: 10,
        pictures: false,
        release: false,
        buttons: false,
        quick_replies: false,
    },
];

fn render_artist(
    header: &str,
    card: &ArtistCard,
    similar: &[ArtistCard],
    budget: &Budget,
) -> SkillResponse {
    let header = Component::SimpleText(SimpleText {
        text: truncate(header, limits::MAX_SIMPLE_TEXT_CHARS).into_owned(),
    });
    let shown = &similar[..similar.len().min(budget.similar)];
    if similar.is_empty() {
        return SkillResponse::new(
            vec![header, Component::ListCard(list_card(card, budget))],
            Vec::new(),
        );
    }
    let cards = std::iter::once(card)
        .chain(shown)
        .map(|c| list_card(c, budget))
        .collect();
    let quick_replies = if budget.quick_replies {
        similar
            .iter()
            .map(|c| c.artist.name.as_str())
            .filter(|name| {
                !name.trim().is_empty() && limits::char_len(name) <= MAX_QUICK_REPLY_NAME_CHARS
            })
            .take(limits::MAX_QUICK_REPLIES)
            .map(|name| {
                QuickReply::message(truncate(name, limits::MAX_QUICK_REPLY_LABEL_CHARS), name)
            })
            .collect()
    } else {
        Vec::new()
    };
    SkillResponse::new(
        vec![header, Component::Carousel(Carousel::ListCard(cards))],
        quick_replies,
    )
}

fn list_card(card: &ArtistCard, budget: &Budget) -> ListCard {
    let artist = &card.artist;
    let release = card.latest_release.as_ref().filter(|_| budget.release);
    let mut items: Vec<ListItem> = release
        .map(|r| release_row(r, budget))
        .into_iter()
        .chain(
            card.tracks
                .iter()
                .take(budget.rows)
                .map(|t| track_row(t, budget)),
        )
        .collect();
    if items.is_empty() {
        items.push(ListItem {
            title: texts::OPEN_IN_SPOTIFY.to_owned(),
            description: None,
            image_url: None,
            link: artist_url(artist).map(Link::web),
        });
    }
    let buttons = if budget.buttons {
        vec![Button {
            label: YOUTUBE_LABEL.to_owned(),
            action: ButtonAction::WebLink {
                web_link_url: youtube_search_url(&artist.name),
            },
        }]
    } else {
        Vec::new()
    };
    ListCard {
        header: ListHeader {
            title: display(
                &artist.name,
                budget.text_chars.min(limits::MAX_LIST_HEADER_CHARS),
            ),
        },
        items,
        buttons,
        button_layout: None,
    }
}

fn track_row(track: &Track, budget: &Budget) -> ListItem {
    ListItem {
        title: display(
            &track.name,
            budget.text_chars.min(limits::MAX_LIST_ITEM_TITLE_CHARS),
        ),
        description: non_blank(track.album_name.as_deref()).map(|album| {
            display(
                album,
                budget
                    .text_chars
                    .min(limits::MAX_LIST_ITEM_DESCRIPTION_CHARS),
            )
        }),
        image_url: if budget.pictures {
            http_url(track.image_url.as_deref())
        } else {
            None
        },
        link: http_url(track.spotify_url.as_deref())
            .or_else(|| spotify_url(SPOTIFY_TRACK, &track.id))
            .map(Link::web),
    }
}

/// The latest release's row: marked as new or as the latest, its name at the budget's
/// length (the mark comes on top, within Kakao's title limit); the date exactly as precise
/// as known and the release type, never shortened (a cut date would say something else).
fn release_row(latest: &LatestRelease, budget: &Budget) -> ListItem {
    let release = &latest.release;
    let label = if latest.new {
        texts::NEW_RELEASE
    } else {
        texts::LATEST_RELEASE
    };
    let name_chars = budget.text_chars.min(
        limits::MAX_LIST_ITEM_TITLE_CHARS - limits::char_len(&texts::release_title(label, "")),
    );
    let title = texts::release_title(label, &display(&release.name, name_chars));
    let description = texts::release_description(
        &release.release_date.to_string(),
        album_type_text(release.album_type),
    );
    ListItem {
        title: display(&title, limits::MAX_LIST_ITEM_TITLE_CHARS),
        description: Some(display(
            &description,
            limits::MAX_LIST_ITEM_DESCRIPTION_CHARS,
        )),
        image_url: if budget.pictures {
            http_url(release.image_url.as_deref())
        } else {
            None
        },
        link: http_url(release.spotify_url.as_deref())
            .or_else(|| spotify_url(SPOTIFY_ALBUM, &release.id))
            .map(Link::web),
    }
}

fn album_type_text(album_type: AlbumType) -> &'static str {
    match album_type {
        AlbumType::Album => texts::ALBUM,
        AlbumType::Single => texts::SINGLE,
        AlbumType::Compilation => texts::COMPILATION,
    }
}

fn artist_url(artist: &Artist) -> Option<String> {
    http_url(artist.spotify_url.as_deref()).or_else(|| spotify_url(SPOTIFY_ARTIST, &artist.id))
}

/// `text` trimmed and cut to `max` characters, or a placeholder when it is blank (Kakao
/// rejects empty titles).
fn display(text: &str, max: usize) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return texts::UNTITLED.to_owned();
    }
    truncate(trimmed, max).into_owned()
}

fn non_blank(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

/// `url` when it is a usable http(s) URL: no empty strings ever reach Kakao.
fn http_url(url: Option<&str>) -> Option<String> {
    url.map(str::trim)
        .filter(|u| limits::is_http_url(u))
        .map(str::to_owned)
}

fn spotify_url(base: &str, id: &str) -> Option<String> {
    let id = id.trim();
    (!id.is_empty()).then(|| format!("{base}{}", percent_encode(id)))
}

/// The YouTube search for `name`.
pub fn youtube_search_url(name: &str) -> String {
    let query = truncate(name.trim(), QUOTED_NAME_CHARS);
    format!(
        "{YOUTUBE_SEARCH}{}",
        percent_encode(query.trim_end_matches(limits::ELLIPSIS))
    )
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// What the answers say, in one place.
mod texts {
    use super::{truncate, RelatedDue, QUOTED_NAME_CHARS};

    pub const ASK_AGAIN: &str = "다시 물어보기";
    pub const OPEN_IN_SPOTIFY: &str = "Spotify에서 보기";
    pub const LATEST_RELEASE: &str = "최신 발매";
    pub const NEW_RELEASE: &str = "NEW";
    pub const ALBUM: &str = "앨범";
    pub const SINGLE: &str = "싱글";
    pub const COMPILATION: &str = "컴필레이션";
    /// Between the parts of a row's title or description.
    pub const SEPARATOR: &str = " · ";
    pub const UNTITLED: &str = "(제목 없음)";
    pub const HELP: &str =
        "좋아하는 아티스트 이름을 보내 주세요. 인기곡과 비슷한 아티스트를 알려 드릴게요.\n\
        예: BTS, 아이유, Red Velvet";
    pub const FAILURE: &str = "죄송해요, 지금은 답을 찾지 못했어요. 잠시 후 다시 보내 주세요.";

    fn quoted(name: &str) -> String {
        truncate(name.trim(), QUOTED_NAME_CHARS).into_owned()
    }

    /// "NEW · name" or "최신 발매 · name".
    pub fn release_title(label: &str, name: &str) -> String {
        format!("{label}{SEPARATOR}{name}")
    }

    /// "2026-10-18 · 싱글".
    pub fn release_description(date: &str, album_type: &str) -> String {
        format!("{date}{SEPARATOR}{album_type}")
    }

    pub fn with_related(name: &str) -> String {
        format!("{}의 인기곡과 비슷한 아티스트예요.", quoted(name))
    }

    pub fn without_related(name: &str, due: RelatedDue) -> String {
        match due {
            RelatedDue::Within { minutes } => format!(
                "{}의 인기곡이에요.\n비슷한 아티스트는 {minutes}분 안에 계산돼요. 잠시 후 다시 물어봐 주세요.",
                quoted(name)
            ),
            RelatedDue::NextRun => format!(
                "{}의 인기곡이에요.\n비슷한 아티스트는 다음 추천 계산(매일 03:00 KST) 후에 보여 드릴게요.",
                quoted(name)
            ),
        }
    }

    pub fn looking_up(query: &str) -> String {
        format!(
            "'{}' 아티스트를 찾아보고 있어요. 잠시 후 다시 물어봐 주세요.",
            quoted(query)
        )
    }

    pub fn still_looking(query: &str) -> String {
        format!(
            "'{}' 아티스트를 아직 찾고 있어요. 잠시 후 다시 물어봐 주세요.",
            quoted(query)
        )
    }

    pub fn retrying(query: &str) -> String {
        format!(
            "'{}' 아티스트를 지난번에는 찾다가 문제가 생겼어요. 다시 찾아보고 있으니 잠시 후 다시 물어봐 주세요.",
            quoted(query)
        )
    }

    pub fn waiting(query: &str) -> String {
        format!(
            "'{}' 아티스트를 찾고 있어요. 잠시만 기다려 주세요.",
            quoted(query)
        )
    }

    pub fn not_found(query: &str) -> String {
        format!(
            "'{}' 아티스트를 찾지 못했어요. 이름을 확인하고 다시 보내 주세요.",
            quoted(query)
        )
    }

    pub fn did_you_mean(query: &str) -> String {
        format!(
            "'{}' 아티스트를 찾지 못했어요. 혹시 이 아티스트를 찾으셨나요?",
            quoted(query)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::validate;
    use encore_domain::release::DatePrecision;
    use encore_domain::ReleaseDate;
    use proptest::prelude::*;

    fn artist(id: &str, name: &str) -> Artist {
        Artist {
            id: id.into(),
            name: name.into(),
            popularity: None,
            followers: None,
            genres: Vec::new(),
            image_url: None,
            spotify_url: None,
        }
    }

    fn track(
        artist_id: &str,
        rank: u32,
        name: &str,
        album: Option<&str>,
        image: Option<&str>,
    ) -> Track {
        Track {
            id: format!("{artist_id}t{rank}"),
            name: name.into(),
            artist_id: artist_id.into(),
            rank,
            album_name: album.map(Into::into),
            image_url: image.map(Into::into),
            popularity: None,
            duration_ms: None,
            spotify_url: Some(format!("https://open.spotify.com/track/{artist_id}t{rank}")),
            features_source: None,
        }
    }

    fn card(id: &str, name: &str, tracks: usize) -> ArtistCard {
        let tracks = (1..=tracks as u32)
            .map(|r| {
                track(
                    id,
                    r,
                    &format!("{name} song {r}"),
                    Some("Album"),
                    Some("https://i.scdn.co/image/a"),
                )
            })
            .collect();
        ArtistCard::new(artist(id, name), tracks)
    }

    fn release(id: &str, name: &str, date: &str, album_type: AlbumType) -> Release {
        Release {
            id: id.into(),
            name: name.into(),
            album_type,
            release_date: date.parse().expect("a release date"),
            image_url: Some(format!("https://i.scdn.co/image/cover-{id}")),
            spotify_url: None,
            primary_artist: true,
            total_tracks: Some(1),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date")
    }

    fn outputs(response: &SkillResponse) -> &[Component] {
        &response.template.as_ref().expect("template").outputs
    }

    fn carousel(response: &SkillResponse) -> &[ListCard] {
        match outputs(response) {
            [_, Component::Carousel(Carousel::ListCard(cards))] => cards,
            _ => panic!("not a header and a carousel: {response:?}"),
        }
    }

    #[test]
    fn related_answer_has_header_carousel_and_quick_replies() {
        let similar: Vec<_> = (0..6)
            .map(|i| card(&format!("s{i}"), &format!("Similar {i}"), 10))
            .collect();
        let answer = artist_answer(&card("a", "아이유", 10), &similar, RelatedDue::NextRun);
        assert_eq!(validate(&answer), Ok(()));
        let [Component::SimpleText(header), Component::Carousel(Carousel::ListCard(cards))] =
            outputs(&answer)
        else {
            panic!("unexpected shape: {answer:?}");
        };
        assert!(header.text.contains("아이유"));
        assert_eq!(cards.len(), 5);
        assert_eq!(cards[0].header.title, "아이유");
        assert_eq!(cards[0].items.len(), MAX_TRACK_ROWS);
        assert_eq!(cards[0].items[0].title, "아이유 song 1");
        assert_eq!(cards[0].items[0].description.as_deref(), Some("Album"));
        assert_eq!(
            cards[0].items[0].link,
            Some(Link::web("https://open.spotify.com/track/at1"))
        );
        assert_eq!(
            cards[0].buttons[0].action,
            ButtonAction::WebLink {
                web_link_url: format!("{YOUTUBE_SEARCH}%EC%95%84%EC%9D%B4%EC%9C%A0")
            }
        );
        let replies = &answer.template.as_ref().unwrap().quick_replies;
        assert_eq!(replies.len(), 6);
        assert_eq!(replies[0], QuickReply::message("Similar 0", "Similar 0"));
    }

    #[test]
    fn the_latest_release_is_the_first_row_then_the_top_tracks() {
        let mut asked = card("a", "아이유", 10);
        let mut single = release("alb1", "Love wins all", "2026-11-20", AlbumType::Single);
        single.spotify_url = Some("https://open.spotify.com/album/alb1?si=x".into());
        asked.latest_release = Some(LatestRelease::as_of(single, today()));
        let similar = vec![card("s", "Similar", 10)];
        let answer = artist_answer(&asked, &similar, RelatedDue::NextRun);
        assert_eq!(validate(&answer), Ok(()));
        let cards = carousel(&answer);
        let rows = &cards[0].items;
        assert_eq!(rows.len(), limits::MAX_LIST_ITEMS_IN_CAROUSEL);
        assert_eq!(rows[0].title, "NEW · Love wins all");
        assert_eq!(rows[0].description.as_deref(), Some("2026-11-20 · 싱글"));
        assert_eq!(
            rows[0].image_url.as_deref(),
            Some("https://i.scdn.co/image/cover-alb1")
        );
        assert_eq!(
            rows[0].link,
            Some(Link::web("https://open.spotify.com/album/alb1?si=x"))
        );
        let tracks: Vec<&str> = rows[1..].iter().map(|r| r.title.as_str()).collect();
        assert_eq!(tracks, ["아이유 song 1", "아이유 song 2", "아이유 song 3"]);
        assert_eq!(cards[1].items.len(), MAX_TRACK_ROWS, "no release, no row");
        assert_eq!(cards[1].items[0].title, "Similar song 1");
    }

    #[test]
    fn the_release_row_shows_the_date_at_its_precision() {
        let cases = [
            (
                "2026-11-20",
                AlbumType::Single,
                "NEW · X",
                "2026-11-20 · 싱글",
            ),
            ("2026-11", AlbumType::Album, "NEW · X", "2026-11 · 앨범"),
            (
                "2026-10",
                AlbumType::Album,
                "최신 발매 · X",
                "2026-10 · 앨범",
            ),
            (
                "2026-10-25",
                AlbumType::Single,
                "최신 발매 · X",
                "2026-10-25 · 싱글",
            ),
            ("2026", AlbumType::Single, "최신 발매 · X", "2026 · 싱글"),
            (
                "1999",
                AlbumType::Compilation,
                "최신 발매 · X",
                "1999 · 컴필레이션",
            ),
        ];
        for (date, album_type, title, description) in cases {
            let mut lonely = card("a", "A", 1);
            lonely.latest_release = Some(LatestRelease::as_of(
                release("r", "X", date, album_type),
                today(),
            ));
            let answer = artist_answer(&lonely, &[], RelatedDue::NextRun);
            assert_eq!(validate(&answer), Ok(()));
            let [_, Component::ListCard(list)] = outputs(&answer) else {
                panic!("unexpected shape: {answer:?}");
            };
            assert_eq!(list.items[0].title, title, "{date}");
            assert_eq!(
                list.items[0].description.as_deref(),
                Some(description),
                "{date}"
            );
        }
    }

    #[test]
    fn answer_without_related_says_when_recommendations_come() {
        let mut lonely = card("a", "New Artist", 2);
        let mut debut = release("debut1", "  Debut  ", "2026-10", AlbumType::Album);
        debut.image_url = Some(String::new());
        lonely.latest_release = Some(LatestRelease::as_of(debut, today()));
        let answer = artist_answer(&lonely, &[], RelatedDue::NextRun);
        assert_eq!(validate(&answer), Ok(()));
        let [Component::SimpleText(header), Component::ListCard(list)] = outputs(&answer) else {
            panic!("unexpected shape: {answer:?}");
        };
        assert!(header.text.contains("03:00 KST"), "{}", header.text);
        assert!(
            !header.text.contains("내일"),
            "never 'tomorrow': {}",
            header.text
        );
        let soon = artist_answer(&lonely, &[], RelatedDue::Within { minutes: 1 });
        let [Component::SimpleText(header), _] = outputs(&soon) else {
            panic!("unexpected shape: {soon:?}");
        };
        assert!(header.text.contains("1분 안에"), "{}", header.text);
        assert!(!header.text.contains("03:00"), "{}", header.text);
        assert_eq!(list.items.len(), 3);
        assert_eq!(list.items[0].title, "최신 발매 · Debut");
        assert_eq!(list.items[0].image_url, None, "a blank cover is left out");
        assert_eq!(
            list.items[0].link,
            Some(Link::web("https://open.spotify.com/album/debut1")),
            "without a URL the album's Spotify page"
        );
        assert_eq!(list.items[1].title, "New Artist song 1");
    }

    #[test]
    fn the_release_row_keeps_its_mark_and_date_when_texts_shrink() {
        let long_url = format!("https://i.scdn.co/image/{}", "x".repeat(2_000));
        let mut big = card("a", &"가".repeat(500), 10);
        for t in &mut big.tracks {
            t.image_url = Some(long_url.clone());
            t.spotify_url = Some(long_url.clone());
        }
        let similar = vec![big.clone(); 4];
        big.latest_release = Some(LatestRelease::as_of(
            release("r", &"나".repeat(500), "2026-11-24", AlbumType::Single),
            today(),
        ));
        let answer = artist_answer(&big, &similar, RelatedDue::NextRun);
        assert_eq!(validate(&answer), Ok(()));
        let cards = carousel(&answer);
        assert!(
            cards[0].items.len() < limits::MAX_LIST_ITEMS_IN_CAROUSEL,
            "a smaller budget was needed: {answer:?}"
        );
        let row = &cards[0].items[0];
        assert!(row.title.starts_with("NEW · 나"), "{}", row.title);
        assert!(row.title.ends_with(limits::ELLIPSIS), "{}", row.title);
        assert!(limits::char_len(&row.title) <= limits::MAX_LIST_ITEM_TITLE_CHARS);
        assert_eq!(row.description.as_deref(), Some("2026-11-24 · 싱글"));
        assert_eq!(
            row.link,
            Some(Link::web("https://open.spotify.com/album/r"))
        );
    }

    #[test]
    fn a_release_too_big_for_any_card_is_left_out_not_the_card() {
        let mut asked = card("a", "A", 3);
        let mut huge = release("r", "Huge", "2026", AlbumType::Album);
        huge.spotify_url = Some(format!(
            "https://open.spotify.com/album/{}",
            "x".repeat(limits::MAX_BUBBLE_BYTES)
        ));
        asked.latest_release = Some(LatestRelease::as_of(huge, today()));
        let answer = artist_answer(&asked, &[card("s", "S", 3)], RelatedDue::NextRun);
        assert_eq!(validate(&answer), Ok(()));
        let cards = carousel(&answer);
        assert_eq!(cards[0].header.title, "A");
        assert_eq!(cards[0].items[0].title, "A song 1");
    }

    #[test]
    fn missing_tracks_images_and_urls_are_handled() {
        let mut bare = card("a", "  ", 0);
        bare.artist.spotify_url = Some(String::new());
        let mut odd = card("b", "B", 1);
        odd.tracks[0].image_url = Some(String::new());
        odd.tracks[0].spotify_url = Some("not a url".into());
        odd.tracks[0].album_name = Some("   ".into());
        let answer = artist_answer(&bare, &[odd], RelatedDue::NextRun);
        assert_eq!(validate(&answer), Ok(()));
        let json = serde_json::to_string(&answer).unwrap();
        assert!(!json.contains(r#""imageUrl":"""#), "{json}");
        let [_, Component::Carousel(Carousel::ListCard(cards))] = outputs(&answer) else {
            panic!("{answer:?}")
        };
        assert_eq!(cards[0].header.title, texts::UNTITLED);
        assert_eq!(
            cards[0].items[0].link,
            Some(Link::web("https://open.spotify.com/artist/a"))
        );
        assert_eq!(
            cards[1].items[0].link,
            Some(Link::web("https://open.spotify.com/track/bt1"))
        );
        assert_eq!(cards[1].items[0].description, None);
        assert_eq!(
            answer.template.as_ref().unwrap().quick_replies,
            vec![QuickReply::message("B", "B")]
        );
    }

    #[test]
    fn oversized_data_shrinks_until_it_fits() {
        let long_url = format!("https://i.scdn.co/image/{}", "x".repeat(2_000));
        let mut big = card("a", &"가".repeat(500), 10);
        for t in &mut big.tracks {
            t.image_url = Some(long_url.clone());
            t.spotify_url = Some(long_url.clone());
        }
        let similar = vec![big.clone(); 4];
        let answer = artist_answer(&big, &similar, RelatedDue::NextRun);
        assert_eq!(validate(&answer), Ok(()));
        assert!(
            matches!(outputs(&answer).get(1), Some(Component::Carousel(_))),
            "still a carousel"
        );
    }

    #[test]
    fn text_answers_are_valid() {
        for answer in [
            help(),
            failure(),
            looking_up("BTS"),
            waiting("BTS"),
            not_found("BTS", &[]),
            not_found("BTZ", &["BTS".into()]),
            still_looking("BTS"),
            retrying("BTS"),
            looking_up(&"a".repeat(5000)),
        ] {
            assert_eq!(validate(&answer), Ok(()), "{answer:?}");
        }
        assert!(waiting("BTS").use_callback);
        let reply = &looking_up("아이유").template.unwrap().quick_replies[0];
        assert_eq!(reply, &QuickReply::message(texts::ASK_AGAIN, "아이유"));
    }

    #[test]
    fn not_found_offers_up_to_four_suggestions_else_examples() {
        let names: Vec<String> = [
            "BTS",
            " ",
            "A Very Long Artist Name Indeed",
            "TWICE",
            "IU",
            "ITZY",
            "aespa",
        ]
        .map(String::from)
        .into();
        let template = not_found("BTZ", &names).template.unwrap();
        let replies: Vec<(&str, &str)> = template
            .quick_replies
            .iter()
            .map(|q| match &q.action {
                crate::response::QuickReplyAction::Message { message_text } => {
                    (q.label.as_str(), message_text.as_str())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            replies,
            [
                ("BTS", "BTS"),
                ("A Very Long A…", "A Very Long Artist Name Indeed"),
                ("TWICE", "TWICE"),
                ("IU", "IU")
            ]
        );
        let Component::SimpleText(text) = &template.outputs[0] else {
            panic!("{template:?}");
        };
        assert_eq!(text.text, texts::did_you_mean("BTZ"));
        let plain = not_found("BTZ", &[]).template.unwrap();
        assert_eq!(plain.quick_replies, example_replies());
    }

    fn nasty_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "\\PC{0,80}",
            "[\"'<>&\\\\ ]{0,20}",
            "(\u{1F3B5}|\u{1F468}\u{200D}\u{1F469}|e\u{301}|\u{1100}\u{1161}|<script>|\"|'|\\s){0,60}",
            "[가-힣a-z]{1,8}".prop_map(|s| s.repeat(300)),
        ]
    }

    fn arb_release_date() -> impl Strategy<Value = ReleaseDate> {
        let around_today = (-400i64..40).prop_map(|days| {
            today()
                .checked_add_signed(chrono::Duration::days(days))
                .expect("a date near today")
        });
        prop_oneof![
            (1900i32..2100).prop_map(ReleaseDate::Year),
            (1900i32..2100, 1u32..=12).prop_map(|(y, m)| ReleaseDate::Month(y, m)),
            around_today.clone().prop_map(ReleaseDate::Day),
            around_today
                .clone()
                .prop_map(|d| ReleaseDate::Day(d).truncated(DatePrecision::Month)),
            around_today.prop_map(|d| ReleaseDate::Day(d).truncated(DatePrecision::Year)),
        ]
    }

    fn arb_release() -> impl Strategy<Value = LatestRelease> {
        (
            nasty_text(),
            nasty_text(),
            prop_oneof![
                Just(AlbumType::Album),
                Just(AlbumType::Single),
                Just(AlbumType::Compilation)
            ],
            arb_release_date(),
            proptest::option::of(nasty_text()),
            proptest::option::of(nasty_text()),
            any::<bool>(),
        )
            .prop_map(|(id, name, album_type, release_date, image, url, new)| {
                let release = Release {
                    id,
                    name,
                    album_type,
                    release_date,
                    image_url: image.map(|i| format!("https://i.scdn.co/{i}")),
                    spotify_url: url.map(|u| {
                        if u.len() % 2 == 0 {
                            format!("https://open.spotify.com/album/{u}")
                        } else {
                            u
                        }
                    }),
                    primary_artist: true,
                    total_tracks: None,
                };
                // Both marks, whatever the date, besides the one `as_of` gives.
                if new {
                    LatestRelease { release, new }
                } else {
                    LatestRelease::as_of(release, today())
                }
            })
    }

    fn arb_card() -> impl Strategy<Value = ArtistCard> {
        let track = (
            nasty_text(),
            proptest::option::of(nasty_text()),
            proptest::option::of(nasty_text()),
            any::<bool>(),
        );
        (
            nasty_text(),
            nasty_text(),
            proptest::collection::vec(track, 0..12),
            proptest::option::of(arb_release()),
        )
            .prop_map(|(id, name, tracks, latest_release)| {
                let tracks = tracks
                    .into_iter()
                    .enumerate()
                    .map(|(i, (tname, album, image, url))| Track {
                        id: format!("{id}{i}"),
                        name: tname,
                        artist_id: id.clone(),
                        rank: i as u32 + 1,
                        album_name: album.clone(),
                        image_url: image.map(|i| format!("https://i.scdn.co/{i}")),
                        popularity: None,
                        duration_ms: None,
                        spotify_url: url.then(|| {
                            format!(
                                "https://open.spotify.com/track/{}",
                                album.unwrap_or_default()
                            )
                        }),
                        features_source: None,
                    })
                    .collect();
                ArtistCard {
                    artist: artist(&id, &name),
                    tracks,
                    latest_release,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_artist_answer_respects_every_limit(
            asked in arb_card(),
            similar in proptest::collection::vec(arb_card(), 0..13),
        ) {
            let answer = artist_answer(&asked, &similar, RelatedDue::NextRun);
            prop_assert_eq!(validate(&answer), Ok(()));
            let json = serde_json::to_string(&answer).unwrap();
            prop_assert!(json.len() <= limits::MAX_BUBBLE_BYTES);
            let first_card = match outputs(&answer) {
                [_, Component::ListCard(card)] => Some(card),
                [_, Component::Carousel(Carousel::ListCard(cards))] => cards.first(),
                _ => None,
            };
            prop_assert!(first_card.is_some(), "a card, not only a text: {:?}", answer);
            if let (Some(card), Some(latest)) = (first_card, &asked.latest_release) {
                let date = latest.release.release_date.to_string();
                let row = card
                    .items
                    .iter()
                    .find(|row| row.description.as_deref().is_some_and(|d| d.starts_with(&date)));
                if let Some(row) = row {
                    prop_assert_eq!(row, &card.items[0], "the release row comes first");
                    let label = if latest.new { texts::NEW_RELEASE } else { texts::LATEST_RELEASE };
                    prop_assert!(row.title.starts_with(label), "{}", row.title);
                }
            }
            let back: SkillResponse = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, answer);
        }

        #[test]
        fn every_text_answer_respects_every_limit(query in nasty_text()) {
            let suggested = [query.clone(), format!("{query}{query}")];
            for answer in [looking_up(&query), waiting(&query), still_looking(&query), retrying(&query), not_found(&query, &[]), not_found(&query, &suggested)] {
                prop_assert_eq!(validate(&answer), Ok(()));
                let json = serde_json::to_string(&answer).unwrap();
                prop_assert!(serde_json::from_str::<SkillResponse>(&json).is_ok());
            }
        }
    }
}
