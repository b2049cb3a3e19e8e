//! How much of an artist answer to render: the budgets tried in order, from the full
//! answer down to one bare card, and the test each rendering must pass.

use super::{MAX_SIMILAR, MAX_TRACK_ROWS};
use crate::limits;
use crate::response::SkillResponse;

/// Whether `response` passes every Kakao limit.
pub(super) fn fits(response: &SkillResponse) -> bool {
    limits::validate(response).is_ok()
}

/// How much of an artist answer to render.
pub(super) struct Budget {
    /// Similar artists' cards.
    pub(super) similar: usize,
    /// Track rows per card.
    pub(super) rows: usize,
    /// Characters of card titles, track titles, album names and release names.
    pub(super) text_chars: usize,
    /// Row pictures (track covers and the release's cover).
    pub(super) pictures: bool,
    /// The latest-release row, when the card has a release: kept in every budget but the
    /// last card-shaped one, because the card promises it.
    pub(super) release: bool,
    /// The YouTube button.
    pub(super) buttons: bool,
    /// Quick replies with the similar names.
    pub(super) quick_replies: bool,
}

/// From the full answer down to one bare card; tried in order.
pub(super) const BUDGETS: [Budget; 8] = [
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
