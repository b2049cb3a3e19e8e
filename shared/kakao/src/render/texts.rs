//! What the answers say, in one place.

use super::{RelatedDue, QUOTED_NAME_CHARS};
use crate::limits::truncate;

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
