//! Every Kakao limit encore's answers must respect, in one place, and [`validate`], which
//! checks a whole answer against them. Kakao drops an answer that breaks one silently (the
//! user sees nothing; the console logs "말풍선 가이드 위반 (2461)"), so every answer is
//! checked before it is sent.
//!
//! encore sends simpleText, basicCard and listCard bubbles (alone or in a carousel), which
//! [`validate`] checks in full; the other components' limits are listed for completeness.
//! Lengths are counted in characters (Unicode scalar values), as Kakao counts them;
//! [`truncate`] shortens text without splitting a character.
//! Source: Kakao's answer_json_format guide and Help Center, compiled in
//! `../shared/docs/kakao-skill.md` §3.

use std::borrow::Cow;

use crate::response::{
    BasicCard, Button, ButtonAction, ButtonLayout, Carousel, Component, Link, ListCard, QuickReply,
    QuickReplyAction, SkillResponse, VERSION,
};

/// `template.outputs`: at least one bubble.
pub const MIN_OUTPUTS: usize = 1;
/// `template.outputs`: at most three bubbles.
pub const MAX_OUTPUTS: usize = 3;
/// `quickReplies` under one answer.
pub const MAX_QUICK_REPLIES: usize = 10;
/// A quick reply's label. Kakao documents none; client libraries use 14 (unconfirmed), and
/// encore keeps to it.
pub const MAX_QUICK_REPLY_LABEL_CHARS: usize = 14;
/// simpleText `text`.
pub const MAX_SIMPLE_TEXT_CHARS: usize = 1000;
/// Past this many characters the client folds a simpleText behind 전체 보기; answers that
/// should be read whole stay under it.
pub const SIMPLE_TEXT_FOLD_CHARS: usize = 500;
/// An image's or thumbnail's `altText`.
pub const MAX_ALT_TEXT_CHARS: usize = 50;
/// basicCard `title`.
pub const MAX_BASIC_CARD_TITLE_CHARS: usize = 50;
/// basicCard `description`.
pub const MAX_BASIC_CARD_DESCRIPTION_CHARS: usize = 230;
/// listCard rows when the card stands alone.
pub const MAX_LIST_ITEMS: usize = 5;
/// listCard rows when the card sits in a carousel.
pub const MAX_LIST_ITEMS_IN_CAROUSEL: usize = 4;
/// A listCard header title. Kakao documents no limit; encore keeps to the basicCard title's.
pub const MAX_LIST_HEADER_CHARS: usize = MAX_BASIC_CARD_TITLE_CHARS;
/// A list row's title. Kakao documents no limit; encore keeps to the basicCard title's.
pub const MAX_LIST_ITEM_TITLE_CHARS: usize = MAX_BASIC_CARD_TITLE_CHARS;
/// A list row's description. Kakao documents no limit; encore keeps to the basicCard
/// title's, because a row shows a single line.
pub const MAX_LIST_ITEM_DESCRIPTION_CHARS: usize = MAX_BASIC_CARD_TITLE_CHARS;
/// Buttons on one card laid out side by side.
pub const MAX_BUTTONS_HORIZONTAL: usize = 2;
/// Buttons on one card stacked (the default layout).
pub const MAX_BUTTONS_VERTICAL: usize = 3;
/// A button's label.
pub const MAX_BUTTON_LABEL_CHARS: usize = 14;
/// A button's label when two buttons sit side by side.
pub const MAX_BUTTON_LABEL_CHARS_SIDE_BY_SIDE: usize = 8;
/// Cards in a carousel.
pub const MAX_CAROUSEL_ITEMS: usize = 10;
/// listCards in a carousel.
pub const MAX_LIST_CARD_CAROUSEL_ITEMS: usize = 5;
/// The whole serialized answer, in bytes (30 KB); over it no reply is sent.
pub const MAX_BUBBLE_BYTES: usize = 30_720;

/// textCard `title`.
pub const MAX_TEXT_CARD_TITLE_CHARS: usize = 50;
/// textCard `description` when the card stands alone (shared with the title).
pub const MAX_TEXT_CARD_DESCRIPTION_CHARS: usize = 400;
/// textCard `description` inside a carousel.
pub const MAX_TEXT_CARD_DESCRIPTION_IN_CAROUSEL_CHARS: usize = 128;
/// commerceCard `title`.
pub const MAX_COMMERCE_CARD_TITLE_CHARS: usize = 30;
/// commerceCard `description`.
pub const MAX_COMMERCE_CARD_DESCRIPTION_CHARS: usize = 40;
/// itemCard `itemList` entries when the card stands alone.
pub const MAX_ITEM_CARD_ITEMS: usize = 10;
/// itemCard `itemList` entries inside a carousel.
pub const MAX_ITEM_CARD_ITEMS_IN_CAROUSEL: usize = 5;
/// How long Kakao waits for a skill's answer; past it the user gets nothing.
pub const SKILL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What ends a shortened text.
pub const ELLIPSIS: char = '…';

/// How an answer breaks a Kakao limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitViolation {
    #[error("version must be {VERSION:?}, got {0:?}")]
    Version(String),
    #[error("{what}: {actual} is more than the limit of {limit}")]
    TooMany {
        what: &'static str,
        limit: usize,
        actual: usize,
    },
    #[error("{what}: {actual} is fewer than the minimum of {min}")]
    TooFew {
        what: &'static str,
        min: usize,
        actual: usize,
    },
    #[error("{what}: {actual} characters, more than the limit of {limit}")]
    TooLong {
        what: &'static str,
        limit: usize,
        actual: usize,
    },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is not an http(s) URL")]
    NotAUrl { what: &'static str },
    #[error("an answer without useCallback needs a template")]
    MissingTemplate,
    #[error("the answer is {actual} bytes, more than the bubble limit of {MAX_BUBBLE_BYTES}")]
    TooLarge { actual: usize },
    #[error("the answer cannot be serialized: {0}")]
    Unserializable(String),
}

/// Where a card sits: the row limit of a listCard depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    Alone,
    InCarousel,
}

/// Checks `response` against every limit in this module, including the serialized size.
pub fn validate(response: &SkillResponse) -> Result<(), LimitViolation> {
    if response.version != VERSION {
        return Err(LimitViolation::Version(response.version.clone()));
    }
    match &response.template {
        Some(template) => {
            count(
                "template.outputs",
                template.outputs.len(),
                MIN_OUTPUTS,
                MAX_OUTPUTS,
            )?;
            for output in &template.outputs {
                validate_component(output)?;
            }
            at_most(
                "quickReplies",
                template.quick_replies.len(),
                MAX_QUICK_REPLIES,
            )?;
            for reply in &template.quick_replies {
                validate_quick_reply(reply)?;
            }
        }
        None if response.use_callback => {}
        None => return Err(LimitViolation::MissingTemplate),
    }
    let bytes = serialized_len(response)?;
    if bytes > MAX_BUBBLE_BYTES {
        return Err(LimitViolation::TooLarge { actual: bytes });
    }
    Ok(())
}

/// The size of `response` as sent, in bytes.
pub fn serialized_len(response: &SkillResponse) -> Result<usize, LimitViolation> {
    serde_json::to_vec(response)
        .map(|bytes| bytes.len())
        .map_err(|e| LimitViolation::Unserializable(e.to_string()))
}

/// Length of `text` as Kakao counts it.
pub fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// `text` shortened to at most `max_chars` characters, ending with [`ELLIPSIS`] when cut.
/// Never splits a character, and does not leave a combining mark, joiner, variation
/// selector or skin-tone modifier without the character it belongs to. `max_chars` of 0
/// gives an empty string.
pub fn truncate(text: &str, max_chars: usize) -> Cow<'_, str> {
    if max_chars == 0 {
        return Cow::Borrowed("");
    }
    // Byte offset of the first character past the limit, if there is one.
    let Some((cut, _)) = text.char_indices().nth(max_chars) else {
        return Cow::Borrowed(text);
    };
    // Keep max_chars - 1 characters, then back off over marks that belong to the
    // character after them and over a dangling joiner.
    let mut kept: Vec<(usize, char)> = text[..cut].char_indices().take(max_chars - 1).collect();
    let mut next = text[..cut].chars().nth(max_chars - 1);
    while let Some(&(_, last)) = kept.last() {
        let next_attaches = next.is_some_and(attaches_to_previous);
        if next_attaches || last == ZERO_WIDTH_JOINER {
            next = Some(last);
            kept.pop();
        } else {
            break;
        }
    }
    let end = kept.last().map_or(0, |&(at, c)| at + c.len_utf8());
    let mut out = String::with_capacity(end + ELLIPSIS.len_utf8());
    out.push_str(text[..end].trim_end());
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

const ZERO_WIDTH_JOINER: char = '\u{200D}';

/// True for characters drawn together with the character before them.
fn attaches_to_previous(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
        || c == ZERO_WIDTH_JOINER
        || matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{1F3FB}'..='\u{1F3FF}' | '\u{E0020}'..='\u{E007F}')
        || matches!(c, '\u{1160}'..='\u{11FF}' | '\u{D7B0}'..='\u{D7FF}')
}

fn at_most(what: &'static str, actual: usize, limit: usize) -> Result<(), LimitViolation> {
    if actual > limit {
        return Err(LimitViolation::TooMany {
            what,
            limit,
            actual,
        });
    }
    Ok(())
}

fn count(what: &'static str, actual: usize, min: usize, max: usize) -> Result<(), LimitViolation> {
    if actual < min {
        return Err(LimitViolation::TooFew { what, min, actual });
    }
    at_most(what, actual, max)
}

fn text(what: &'static str, value: &str, limit: usize) -> Result<(), LimitViolation> {
    if value.trim().is_empty() {
        return Err(LimitViolation::Empty { what });
    }
    let actual = char_len(value);
    if actual > limit {
        return Err(LimitViolation::TooLong {
            what,
            limit,
            actual,
        });
    }
    Ok(())
}

fn optional_text(
    what: &'static str,
    value: Option<&str>,
    limit: usize,
) -> Result<(), LimitViolation> {
    value.map_or(Ok(()), |v| text(what, v, limit))
}

fn url(what: &'static str, value: &str) -> Result<(), LimitViolation> {
    if value.is_empty() {
        return Err(LimitViolation::Empty { what });
    }
    if !is_http_url(value) {
        return Err(LimitViolation::NotAUrl { what });
    }
    Ok(())
}

/// True when `value` is an absolute http(s) URL with a host and no whitespace: the only
/// kind of link and image address encore sends.
pub fn is_http_url(value: &str) -> bool {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && !r.starts_with('/') && !value.chars().any(char::is_whitespace)
    })
}

fn link(what: &'static str, link: &Link) -> Result<(), LimitViolation> {
    let mut any = false;
    for u in link.urls() {
        url(what, u)?;
        any = true;
    }
    if !any {
        return Err(LimitViolation::Empty { what });
    }
    Ok(())
}

fn validate_component(component: &Component) -> Result<(), LimitViolation> {
    match component {
        Component::SimpleText(t) => text("simpleText.text", &t.text, MAX_SIMPLE_TEXT_CHARS),
        Component::BasicCard(card) => validate_basic_card(card),
        Component::ListCard(card) => validate_list_card(card, Placement::Alone),
        Component::Carousel(Carousel::ListCard(cards)) => {
            count(
                "carousel of listCards",
                cards.len(),
                1,
                MAX_LIST_CARD_CAROUSEL_ITEMS,
            )?;
            cards
                .iter()
                .try_for_each(|card| validate_list_card(card, Placement::InCarousel))
        }
        Component::Carousel(Carousel::BasicCard(cards)) => {
            count("carousel of basicCards", cards.len(), 1, MAX_CAROUSEL_ITEMS)?;
            cards.iter().try_for_each(validate_basic_card)
        }
    }
}

fn validate_basic_card(card: &BasicCard) -> Result<(), LimitViolation> {
    optional_text(
        "basicCard.title",
        card.title.as_deref(),
        MAX_BASIC_CARD_TITLE_CHARS,
    )?;
    optional_text(
        "basicCard.description",
        card.description.as_deref(),
        MAX_BASIC_CARD_DESCRIPTION_CHARS,
    )?;
    url("basicCard.thumbnail.imageUrl", &card.thumbnail.image_url)?;
    optional_text(
        "basicCard.thumbnail.altText",
        card.thumbnail.alt_text.as_deref(),
        MAX_ALT_TEXT_CHARS,
    )?;
    if let Some(l) = &card.thumbnail.link {
        link("basicCard.thumbnail.link", l)?;
    }
    validate_buttons(&card.buttons, card.button_layout)
}

fn validate_list_card(card: &ListCard, placement: Placement) -> Result<(), LimitViolation> {
    text(
        "listCard.header.title",
        &card.header.title,
        MAX_LIST_HEADER_CHARS,
    )?;
    let max_items = match placement {
        Placement::Alone => MAX_LIST_ITEMS,
        Placement::InCarousel => MAX_LIST_ITEMS_IN_CAROUSEL,
    };
    count("listCard.items", card.items.len(), 1, max_items)?;
    for item in &card.items {
        text(
            "listCard item title",
            &item.title,
            MAX_LIST_ITEM_TITLE_CHARS,
        )?;
        optional_text(
            "listCard item description",
            item.description.as_deref(),
            MAX_LIST_ITEM_DESCRIPTION_CHARS,
        )?;
        if let Some(image) = &item.image_url {
            url("listCard item imageUrl", image)?;
        }
        if let Some(l) = &item.link {
            link("listCard item link", l)?;
        }
    }
    validate_buttons(&card.buttons, card.button_layout)
}

fn validate_buttons(
    buttons: &[Button],
    layout: Option<ButtonLayout>,
) -> Result<(), LimitViolation> {
    let side_by_side = layout == Some(ButtonLayout::Horizontal);
    let max = if side_by_side {
        MAX_BUTTONS_HORIZONTAL
    } else {
        MAX_BUTTONS_VERTICAL
    };
    at_most("card buttons", buttons.len(), max)?;
    let label_limit = if side_by_side && buttons.len() > 1 {
        MAX_BUTTON_LABEL_CHARS_SIDE_BY_SIDE
    } else {
        MAX_BUTTON_LABEL_CHARS
    };
    for button in buttons {
        text("button label", &button.label, label_limit)?;
        match &button.action {
            ButtonAction::WebLink { web_link_url } => url("button webLinkUrl", web_link_url)?,
            ButtonAction::Message { message_text } => {
                text("button messageText", message_text, usize::MAX)?
            }
            ButtonAction::Block { block_id, .. } => text("button blockId", block_id, usize::MAX)?,
        }
    }
    Ok(())
}

fn validate_quick_reply(reply: &QuickReply) -> Result<(), LimitViolation> {
    text(
        "quickReply label",
        &reply.label,
        MAX_QUICK_REPLY_LABEL_CHARS,
    )?;
    match &reply.action {
        QuickReplyAction::Message { message_text } => {
            text("quickReply messageText", message_text, usize::MAX)
        }
        QuickReplyAction::Block { block_id, .. } => {
            text("quickReply blockId", block_id, usize::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::{ListHeader, ListItem, SimpleText, Thumbnail};

    #[test]
    fn truncate_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("BTS", 3), "BTS");
        assert_eq!(truncate("방탄소년단", 5), "방탄소년단");
        assert_eq!(truncate("방탄소년단", 4), "방탄소…");
        assert_eq!(truncate("abcdef", 1), "…");
        assert_eq!(truncate("abcdef", 0), "");
        assert_eq!(truncate("ab  cdef", 4), "ab…");
        assert_eq!(char_len(&truncate("🎵🎵🎵🎵", 3)), 3);
    }

    #[test]
    fn truncate_keeps_marks_with_their_base() {
        // "e" + combining acute: cutting between them would drop the accent.
        let text = "cafe\u{301}s";
        assert_eq!(truncate(text, 5), "caf…");
        // A ZWJ family emoji is not cut into a dangling joiner.
        let family = "ab👨\u{200D}👩\u{200D}👧";
        let cut = truncate(family, 5);
        assert!(!cut.contains('\u{200D}'), "{cut:?}");
        assert!(cut.ends_with(ELLIPSIS));
        // A skin-tone modifier stays with its hand.
        assert_eq!(truncate("x👍\u{1F3FD}yz", 3), "x…");
    }

    fn list_card(rows: usize) -> ListCard {
        ListCard {
            header: ListHeader { title: "h".into() },
            items: (0..rows)
                .map(|i| ListItem {
                    title: format!("t{i}"),
                    description: None,
                    image_url: None,
                    link: None,
                })
                .collect(),
            buttons: Vec::new(),
            button_layout: None,
        }
    }

    #[test]
    fn carousel_rows_and_cards_are_limited() {
        let ok = SkillResponse::new(
            vec![Component::Carousel(Carousel::ListCard(vec![
                list_card(4);
                5
            ]))],
            vec![],
        );
        assert_eq!(validate(&ok), Ok(()));
        let fifth_row = SkillResponse::new(
            vec![Component::Carousel(Carousel::ListCard(vec![list_card(5)]))],
            vec![],
        );
        assert!(matches!(
            validate(&fifth_row),
            Err(LimitViolation::TooMany {
                what: "listCard.items",
                ..
            })
        ));
        let sixth_card = SkillResponse::new(
            vec![Component::Carousel(Carousel::ListCard(vec![
                list_card(1);
                6
            ]))],
            vec![],
        );
        assert!(matches!(
            validate(&sixth_card),
            Err(LimitViolation::TooMany { .. })
        ));
        let alone = SkillResponse::new(vec![Component::ListCard(list_card(5))], vec![]);
        assert_eq!(validate(&alone), Ok(()));
    }

    #[test]
    fn outputs_quick_replies_and_labels_are_limited() {
        let text = |t: &str| Component::SimpleText(SimpleText { text: t.into() });
        assert!(matches!(
            validate(&SkillResponse::new(vec![], vec![])),
            Err(LimitViolation::TooFew { .. })
        ));
        assert!(validate(&SkillResponse::new(vec![text("a"); 4], vec![])).is_err());
        assert!(validate(&SkillResponse::new(vec![text(&"가".repeat(1001))], vec![])).is_err());
        assert_eq!(
            validate(&SkillResponse::new(vec![text(&"가".repeat(1000))], vec![])),
            Ok(())
        );
        let replies = vec![QuickReply::message("a", "a"); 11];
        assert!(validate(&SkillResponse::new(vec![text("a")], replies)).is_err());
        let long_label = vec![QuickReply::message("a".repeat(15), "a")];
        assert!(validate(&SkillResponse::new(vec![text("a")], long_label)).is_err());
        let mut callback = SkillResponse::callback(Default::default());
        assert_eq!(validate(&callback), Ok(()));
        callback.use_callback = false;
        assert_eq!(validate(&callback), Err(LimitViolation::MissingTemplate));
    }

    #[test]
    fn buttons_images_and_size_are_limited() {
        let button = |label: &str| Button {
            label: label.into(),
            action: ButtonAction::WebLink {
                web_link_url: "https://example.com".into(),
            },
        };
        let mut card = list_card(1);
        card.buttons = vec![button("123456789"), button("b")];
        card.button_layout = Some(ButtonLayout::Horizontal);
        let response = |card: ListCard| SkillResponse::new(vec![Component::ListCard(card)], vec![]);
        assert!(
            validate(&response(card.clone())).is_err(),
            "9 chars side by side"
        );
        card.button_layout = None;
        assert_eq!(validate(&response(card.clone())), Ok(()));
        card.buttons = vec![button("b"); 4];
        assert!(validate(&response(card.clone())).is_err());
        card.buttons.clear();
        card.items[0].image_url = Some(String::new());
        assert!(matches!(
            validate(&response(card.clone())),
            Err(LimitViolation::Empty { .. })
        ));
        card.items[0].image_url = Some("javascript:alert(1)".into());
        assert!(matches!(
            validate(&response(card.clone())),
            Err(LimitViolation::NotAUrl { .. })
        ));
        card.items[0].image_url = Some(format!("https://x/{}", "a".repeat(MAX_BUBBLE_BYTES)));
        assert!(matches!(
            validate(&response(card)),
            Err(LimitViolation::TooLarge { .. })
        ));

        let basic = BasicCard {
            title: Some("t".into()),
            description: None,
            thumbnail: Thumbnail {
                image_url: String::new(),
                alt_text: None,
                link: None,
                fixed_ratio: None,
            },
            buttons: vec![],
            button_layout: None,
        };
        let answer = SkillResponse::new(vec![Component::BasicCard(basic)], vec![]);
        assert!(matches!(
            validate(&answer),
            Err(LimitViolation::Empty { .. })
        ));
    }
}
