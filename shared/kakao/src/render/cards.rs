//! The cards of an artist answer: the header and carousel, each artist's list card, and
//! its rows (the latest release first, then the top tracks), cut to a [`Budget`].

use encore_domain::release::AlbumType;
use encore_domain::Track;

use super::budget::Budget;
use super::links::{
    artist_url, http_url, spotify_url, youtube_search_url, SPOTIFY_ALBUM, SPOTIFY_TRACK,
};
use super::{texts, ArtistCard, LatestRelease, MAX_QUICK_REPLY_NAME_CHARS, YOUTUBE_LABEL};
use crate::limits::{self, truncate};
use crate::response::{
    Button, ButtonAction, Carousel, Component, Link, ListCard, ListHeader, ListItem, QuickReply,
    SimpleText, SkillResponse,
};

/// The artist answer rendered within `budget`: the header, then the artist's card
/// alone (no similar artists) or a carousel of it and the similar ones.
pub(super) fn render_artist(
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
            .or_else(|| spotify_url(SPOTIFY_TRACK, track.id.as_str()))
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
