//! The skill response (version 2.0), with serde matching Kakao's JSON exactly: components
//! are objects keyed by their type (`{"simpleText": {…}}`), a carousel's items are bare card
//! objects, buttons and quick replies carry their action inline.
//!
//! Building a value does not check Kakao's limits: [`crate::limits::validate`] does.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only response version encore speaks; without it Kakao reads the answer as v1.
pub const VERSION: &str = "2.0";

/// A whole answer to one skill request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillResponse {
    /// Always [`VERSION`].
    pub version: String,
    /// What the user sees. Absent in a callback acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SkillTemplate>,
    /// True acknowledges a callback request: the real answer is POSTed to the
    /// `callbackUrl` later, and Kakao shows the block's waiting message meanwhile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_callback: bool,
    /// Values for the webhook variables (`{{#webhook.key}}`) of admin-built bubbles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

impl SkillResponse {
    /// An answer showing `outputs`, with `quick_replies` under them.
    pub fn new(outputs: Vec<Component>, quick_replies: Vec<QuickReply>) -> Self {
        Self {
            version: VERSION.to_owned(),
            template: Some(SkillTemplate {
                outputs,
                quick_replies,
            }),
            use_callback: false,
            data: None,
        }
    }

    /// A callback acknowledgement: no template, `useCallback: true`, and `data` for the
    /// block's waiting message.
    pub fn callback(data: Map<String, Value>) -> Self {
        Self {
            version: VERSION.to_owned(),
            template: None,
            use_callback: true,
            data: Some(data),
        }
    }
}

/// The bubbles of an answer and the quick replies under them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillTemplate {
    pub outputs: Vec<Component>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
}

/// One output bubble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Component {
    SimpleText(SimpleText),
    BasicCard(BasicCard),
    ListCard(ListCard),
    Carousel(Carousel),
}

/// A plain text bubble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleText {
    pub text: String,
}

/// A card with a thumbnail, a title, a description and buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Required by Kakao (a basicCard without one is a guide violation).
    pub thumbnail: Thumbnail,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_layout: Option<ButtonLayout>,
}

/// A card's picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Thumbnail {
    pub image_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// True shows the picture 1:1; the default is a 2:1 centre crop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ratio: Option<bool>,
}

/// A card with a header and rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListCard {
    pub header: ListHeader,
    pub items: Vec<ListItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_layout: Option<ButtonLayout>,
}

/// A list card's header: only the title is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListHeader {
    pub title: String,
}

/// One row of a list card. A row has one link at most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListItem {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The picture on the right of the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
}

/// Where a tap leads, per client kind; `web` serves all when the others are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

impl Link {
    /// A link opening `url` on every client.
    pub fn web(url: impl Into<String>) -> Self {
        Self {
            web: Some(url.into()),
            pc: None,
            mobile: None,
        }
    }

    /// Every URL of the link.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        [&self.web, &self.pc, &self.mobile]
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

/// A carousel of cards of one kind; the items are bare card objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "items", rename_all = "camelCase")]
pub enum Carousel {
    ListCard(Vec<ListCard>),
    BasicCard(Vec<BasicCard>),
}

/// How a card lays out its buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ButtonLayout {
    /// Stacked (Kakao's default).
    Vertical,
    /// Side by side.
    Horizontal,
}

/// A card button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub label: String,
    #[serde(flatten)]
    pub action: ButtonAction,
}

/// What a button does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum ButtonAction {
    /// Opens a web page.
    #[serde(rename_all = "camelCase")]
    WebLink { web_link_url: String },
    /// Sends `messageText` as the user's utterance.
    #[serde(rename_all = "camelCase")]
    Message { message_text: String },
    /// Runs a block; `messageText` (or else the label) shows as the user's utterance.
    #[serde(rename_all = "camelCase")]
    Block {
        block_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_text: Option<String>,
    },
}

/// A quick reply under the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickReply {
    pub label: String,
    #[serde(flatten)]
    pub action: QuickReplyAction,
}

impl QuickReply {
    /// A quick reply that sends `message_text` as if the user typed it.
    pub fn message(label: impl Into<String>, message_text: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            action: QuickReplyAction::Message {
                message_text: message_text.into(),
            },
        }
    }
}

/// What a quick reply does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum QuickReplyAction {
    /// Sends `messageText` as the user's utterance.
    #[serde(rename_all = "camelCase")]
    Message { message_text: String },
    /// Runs a block, showing `messageText` as the user's utterance.
    #[serde(rename_all = "camelCase")]
    Block {
        block_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_text: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_kakaos_listcard_carousel_example() {
        let kakao = json!({"version":"2.0","template":{
            "outputs":[{"simpleText":{"text":"아이유 and similar artists"}},
             {"carousel":{"type":"listCard","items":[
              {"header":{"title":"아이유"},
               "items":[{"title":"Love wins all","description":"The Winning",
                 "imageUrl":"https://i.scdn.co/image/x","link":{"web":"https://open.spotify.com/track/y"}}],
               "buttons":[{"label":"YouTube","action":"webLink","webLinkUrl":"https://www.youtube.com/results?search_query=z"}]}]}}],
            "quickReplies":[{"label":"태연","action":"message","messageText":"태연"}]}});
        let ours = SkillResponse::new(
            vec![
                Component::SimpleText(SimpleText {
                    text: "아이유 and similar artists".into(),
                }),
                Component::Carousel(Carousel::ListCard(vec![ListCard {
                    header: ListHeader {
                        title: "아이유".into(),
                    },
                    items: vec![ListItem {
                        title: "Love wins all".into(),
                        description: Some("The Winning".into()),
                        image_url: Some("https://i.scdn.co/image/x".into()),
                        link: Some(Link::web("https://open.spotify.com/track/y")),
                    }],
                    buttons: vec![Button {
                        label: "YouTube".into(),
                        action: ButtonAction::WebLink {
                            web_link_url: "https://www.youtube.com/results?search_query=z".into(),
                        },
                    }],
                    button_layout: None,
                }])),
            ],
            vec![QuickReply::message("태연", "태연")],
        );
        assert_eq!(serde_json::to_value(&ours).unwrap(), kakao);
        let back: SkillResponse = serde_json::from_value(kakao).unwrap();
        assert_eq!(back, ours);
    }

    #[test]
    fn callback_ack_has_no_template() {
        let mut data = Map::new();
        data.insert("text".into(), json!("찾는 중"));
        let value = serde_json::to_value(SkillResponse::callback(data)).unwrap();
        assert_eq!(
            value,
            json!({"version":"2.0","useCallback":true,"data":{"text":"찾는 중"}})
        );
    }

    #[test]
    fn basic_card_and_block_actions_serialize_like_kakao() {
        let card = Component::BasicCard(BasicCard {
            title: Some("t".into()),
            description: None,
            thumbnail: Thumbnail {
                image_url: "https://x/y.jpg".into(),
                alt_text: None,
                link: None,
                fixed_ratio: Some(true),
            },
            buttons: vec![Button {
                label: "go".into(),
                action: ButtonAction::Block {
                    block_id: "b1".into(),
                    message_text: None,
                },
            }],
            button_layout: Some(ButtonLayout::Horizontal),
        });
        assert_eq!(
            serde_json::to_value(&card).unwrap(),
            json!({"basicCard":{"title":"t","thumbnail":{"imageUrl":"https://x/y.jpg","fixedRatio":true},
                "buttons":[{"label":"go","action":"block","blockId":"b1"}],"buttonLayout":"horizontal"}})
        );
    }
}
