//! The skill payload Kakao's bot POSTs to a skill server.
//!
//! Only `userRequest.utterance` and `userRequest.user.id` are required: real traffic adds
//! keys (duplicated snake_case properties, `isInSlotFilling`, …) and the admin skill-test
//! tool sends `lang: null`, `user.type = "accountId"` and no properties, so everything else
//! is optional, `null` is read as "absent", and unknown keys are accepted (never
//! `deny_unknown_fields`).

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Reads `null` as the type's default, for collections Kakao may send as `null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The whole skill payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillRequest {
    /// What the user sent, and who sent it.
    pub user_request: UserRequest,
    /// The skill call: parameters the block extracted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The bot that received the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<Bot>,
    /// The block that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// Active conversation contexts, passed through untouched.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contexts: Vec<Value>,
    /// How the user reached the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<Flow>,
}

/// The user's message and its context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRequest {
    /// The text the user sent.
    pub utterance: String,
    /// The sender.
    pub user: User,
    /// One-time URL to POST the real answer to, present only when the block has
    /// callbacks enabled (valid for one minute, usable once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// "ko" in real traffic ("kr" in older docs), `null` from the skill-test tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Request parameters such as `surface`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub params: HashMap<String, Value>,
    /// The block that handled the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<Block>,
    /// The user's time zone, e.g. "Asia/Seoul".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The bot-scoped user key (differs per bot; up to 70 characters).
    pub id: String,
    /// "botUserKey" in real traffic, "accountId" from the skill-test tool.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Extra keys about the user (`plusfriendUserKey`, `isFriend`, and undocumented
    /// snake_case duplicates), kept as sent.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub properties: Map<String, Value>,
}

/// The skill call, with the parameters the block extracted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The skill's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Entity name → value; system entities arrive as JSON encoded in a string.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub params: HashMap<String, Value>,
    /// Entity name → the raw text and the resolved value.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub detail_params: HashMap<String, DetailParam>,
    /// `extra` of the button, quick reply or list item that triggered the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_extra: Option<Value>,
}

impl Action {
    /// The value of parameter `name` as text: `params[name]` when it is a non-blank
    /// string, else `detailParams[name]`'s value, else its origin (the raw text).
    pub fn param(&self, name: &str) -> Option<&str> {
        let non_blank = |s: &&str| !s.trim().is_empty();
        if let Some(value) = self
            .params
            .get(name)
            .and_then(Value::as_str)
            .filter(non_blank)
        {
            return Some(value);
        }
        let detail = self.detail_params.get(name)?;
        detail
            .value
            .as_deref()
            .filter(non_blank)
            .or_else(|| detail.origin.as_deref().filter(non_blank))
    }
}

/// One extracted parameter in detail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailParam {
    /// The text as the user typed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The entity's resolved value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

/// The bot that received the message (its id ends in `!` in real traffic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The block that matched the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Knowledge-base details when a 지식+ answer matched, passed through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// A block reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Block {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How the user reached the block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_block: Option<Block>,
}

/// What triggered the block: `TEXT_INPUT`, `LIST_ITEM_BLOCK`, `QUICKREPLY_BUTTON_MESSAGE`, …
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer_block: Option<Block>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> String {
        let path = format!("{}/../../events/samples/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    }

    /// Every key the model writes exists in `original` with the same value.
    fn assert_subset(written: &Value, original: &Value, at: &str) {
        match (written, original) {
            (Value::Object(w), Value::Object(o)) => {
                for (key, value) in w {
                    let other = o
                        .get(key)
                        .unwrap_or_else(|| panic!("{at}.{key} was not in the original"));
                    assert_subset(value, other, &format!("{at}.{key}"));
                }
            }
            _ => assert_eq!(written, original, "at {at}"),
        }
    }

    fn round_trip(raw: &str) -> SkillRequest {
        let parsed: SkillRequest = serde_json::from_str(raw).unwrap();
        let written = serde_json::to_value(&parsed).unwrap();
        assert_subset(&written, &serde_json::from_str(raw).unwrap(), "$");
        let again: SkillRequest = serde_json::from_value(written).unwrap();
        assert_eq!(again, parsed);
        parsed
    }

    #[test]
    fn samples_round_trip() {
        let plain = round_trip(&sample("kakao-skill-request.json"));
        assert_eq!(plain.user_request.utterance, "BTS");
        assert_eq!(plain.user_request.callback_url, None);
        assert_eq!(
            plain.action.as_ref().and_then(|a| a.param("artist")),
            Some("BTS")
        );
        assert_eq!(
            plain.user_request.user.properties["bot_user_key"]
                .as_str()
                .map(str::len),
            Some(64)
        );

        let callback = round_trip(&sample("kakao-skill-request-callback.json"));
        assert_eq!(callback.user_request.utterance, "방탄소년단");
        assert!(callback
            .user_request
            .callback_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://bot-api.kakao.com/")));
        assert_eq!(
            callback.action.as_ref().and_then(|a| a.param("artist")),
            None
        );
    }

    #[test]
    fn apigw_body_round_trips() {
        let event: Value = serde_json::from_str(&sample("apigw-v2-skill-request.json")).unwrap();
        let body = event["body"].as_str().unwrap();
        let parsed = round_trip(body);
        assert_eq!(parsed.user_request.user.kind.as_deref(), Some("botUserKey"));
        assert_eq!(
            parsed
                .flow
                .and_then(|f| f.trigger)
                .and_then(|t| t.kind)
                .as_deref(),
            Some("TEXT_INPUT")
        );
    }

    #[test]
    fn admin_skill_test_shape_is_accepted() {
        let raw = r#"{"intent":{"id":"x","name":"블록 이름"},
            "userRequest":{"timezone":"Asia/Seoul","params":{"ignoreMe":"true"},
              "block":{"id":"x","name":"블록 이름"},"utterance":"발화 내용","lang":null,
              "user":{"id":"613d5d","type":"accountId","properties":{}}},
            "bot":{"id":"5f1!","name":"봇 이름"},
            "action":{"name":"","clientExtra":null,"params":{},"id":"y","detailParams":{}}}"#;
        let parsed = round_trip(raw);
        assert_eq!(parsed.user_request.lang, None);
        assert_eq!(parsed.user_request.user.kind.as_deref(), Some("accountId"));
        let bare = r#"{"userRequest":{"utterance":"x","user":{"id":"u"}}}"#;
        assert_eq!(round_trip(bare).user_request.user.properties.len(), 0);
    }

    #[test]
    fn extra_keys_and_nulls_are_accepted() {
        let raw = r#"{"userRequest":{"utterance":"아이유","user":{"id":"u","type":"botUserKey",
              "properties":{"bot_user_key":"u","botUserKey":"u","accountId":"9","talkUserId":"t",
              "appUserStatus":"REGISTERED","isFriend":true}},"isInSlotFilling":false,
              "params":null,"callbackUrl":null},
            "action":{"params":{"artist":"아이유","sys_date":"{\"date\":\"2026-11-25\"}"},
              "detailParams":null,"clientExtra":{"k":1}},
            "contexts":null,"flow":{"trigger":{"type":"QUICKREPLY_BUTTON_MESSAGE","referrerBlock":{"id":"b"}}},
            "newTopLevel":{"a":[1,2]}}"#;
        let parsed: SkillRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(parsed.user_request.callback_url, None);
        assert!(parsed.contexts.is_empty());
        assert_eq!(
            parsed.action.as_ref().and_then(|a| a.param("artist")),
            Some("아이유")
        );
    }

    #[test]
    fn required_fields_and_types_are_enforced() {
        for raw in [
            r#"{}"#,
            r#"{"userRequest":{"user":{"id":"u"}}}"#,
            r#"{"userRequest":{"utterance":"x"}}"#,
            r#"{"userRequest":{"utterance":"x","user":{}}}"#,
            r#"{"userRequest":{"utterance":5,"user":{"id":"u"}}}"#,
            r#"{"userRequest":{"utterance":"x","user":{"id":7}}}"#,
            r#"{"userRequest":"x"}"#,
            r#"[]"#,
        ] {
            assert!(
                serde_json::from_str::<SkillRequest>(raw).is_err(),
                "{raw} was accepted"
            );
        }
    }

    #[test]
    fn param_prefers_params_then_detail_value_then_origin() {
        let mut action = Action::default();
        action.detail_params.insert(
            "artist".into(),
            DetailParam {
                origin: Some("raw".into()),
                value: Some(" ".into()),
                group_name: None,
            },
        );
        assert_eq!(action.param("artist"), Some("raw"));
        action.detail_params.get_mut("artist").unwrap().value = Some("value".into());
        assert_eq!(action.param("artist"), Some("value"));
        action
            .params
            .insert("artist".into(), Value::String("param".into()));
        assert_eq!(action.param("artist"), Some("param"));
        assert_eq!(action.param("other"), None);
    }
}
