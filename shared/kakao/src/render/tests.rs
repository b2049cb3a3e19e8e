//! The answers' shapes and texts, and the property that every answer respects every
//! Kakao limit.

use super::links::YOUTUBE_SEARCH;
use super::*;
use crate::limits::validate;
use crate::response::{ButtonAction, Carousel, Link, ListCard};
use encore_domain::release::AlbumType;
use encore_domain::release::DatePrecision;
use encore_domain::ReleaseDate;
use proptest::prelude::*;

fn artist(id: &str, name: &str) -> Artist {
    Artist {
        id: id.parse().unwrap(),
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
        id: format!("{artist_id}t{rank}").parse().unwrap(),
        name: name.into(),
        artist_id: artist_id.parse().unwrap(),
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
        // Any id the id rule accepts, short enough to number its tracks after it.
        "[A-Za-z0-9_-]{1,62}",
        nasty_text(),
        proptest::collection::vec(track, 0..12),
        proptest::option::of(arb_release()),
    )
        .prop_map(|(id, name, tracks, latest_release)| {
            let tracks = tracks
                .into_iter()
                .enumerate()
                .map(|(i, (tname, album, image, url))| Track {
                    id: format!("{id}{i}").parse().unwrap(),
                    name: tname,
                    artist_id: id.parse().unwrap(),
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
