//! Where a card links to: the catalog's URLs when usable, else Spotify's pages by id, and
//! the YouTube search for an artist, with names and ids percent-encoded.

use encore_domain::Artist;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::QUOTED_NAME_CHARS;
use crate::limits::{self, truncate};

/// Where the YouTube button searches.
pub(super) const YOUTUBE_SEARCH: &str = "https://www.youtube.com/results?search_query=";
/// Where a track or artist opens when the catalog gave no URL.
pub(super) const SPOTIFY_TRACK: &str = "https://open.spotify.com/track/";
const SPOTIFY_ARTIST: &str = "https://open.spotify.com/artist/";
pub(super) const SPOTIFY_ALBUM: &str = "https://open.spotify.com/album/";
/// What RFC 3986 leaves unencoded (its unreserved characters); everything else is
/// percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The artist's page: the catalog's URL when usable, else Spotify's by id.
pub(super) fn artist_url(artist: &Artist) -> Option<String> {
    http_url(artist.spotify_url.as_deref())
        .or_else(|| spotify_url(SPOTIFY_ARTIST, artist.id.as_str()))
}

/// `url` when it is a usable http(s) URL: no empty strings ever reach Kakao.
pub(super) fn http_url(url: Option<&str>) -> Option<String> {
    url.map(str::trim)
        .filter(|u| limits::is_http_url(u))
        .map(str::to_owned)
}

/// `base` followed by the encoded `id`; `None` for a blank id.
pub(super) fn spotify_url(base: &str, id: &str) -> Option<String> {
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
    utf8_percent_encode(text, UNRESERVED).to_string()
}
