//! The skill payload Kakao's bot POSTs to a skill server.
//!
//! The skill reads five things: `userRequest.utterance`, the artist parameter
//! (`action.params` / `action.detailParams`), `userRequest.callbackUrl`,
//! `userRequest.user.id`, and the block and bot ids for logs. Only the utterance and the
//! user id are required (both strings); a request without them, or not JSON at all, is
//! refused. Every other field is read leniently and never refuses a request: Kakao's docs
//! and real traffic send the same field as a string, a number, an object, `null` or not
//! at all (system entities such as `sys.number` arrive in `action.params` and in
//! `detailParams.*.value` as JSON objects or as JSON encoded in a string; `clientExtra` as
//! `{}`, `null` or the string `"null"`; `lang` as `"ko"`, `"kr"` or `null`; `user.type` as
//! `botUserKey`, `accountId`, `talk_user_id`, …; slot-filling keys, `flow` and
//! `params.media` come and go). A value of the wrong type reads as absent; unknown keys
//! are accepted (never `deny_unknown_fields`). The corpus in `events/samples/kakao/`
//! holds real payloads of each kind.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Reads any JSON value as `T`, and a value `T` cannot hold (`null`, a wrong type) as
/// `T`'s default, so a field the skill does not depend on never refuses a request.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).unwrap_or_default())
}

/// Reads a string as itself and a number or a boolean as its JSON text (ids and names
/// are strings in every sample; anything else is kept only where it still reads as text).
fn lenient_text<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    })
}

/// Reads a JSON object of `T`s, leaving out the entries that are not a `T`; anything but
/// an object reads as empty.
fn lenient_map<'de, D, T>(deserializer: D) -> Result<HashMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let Value::Object(entries) = Value::deserialize(deserializer)? else {
        return Ok(HashMap::new());
    };
    Ok(entries
        .into_iter()
        .filter_map(|(key, value)| T::deserialize(value).ok().map(|t| (key, t)))
        .collect())
}

/// Reads a non-blank string; anything else (`null`, `""`, a number, an object) as
/// absent.
fn lenient_url<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::String(url) if !url.trim().is_empty() => Some(url),
        _ => None,
    })
}

/// Reads a JSON object; anything else (`null`, `"null"`, a list) as no value.
fn lenient_object<'de, D>(deserializer: D) -> Result<Option<Value>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(Some(Value::deserialize(deserializer)?).filter(Value::is_object))
}

/// The whole skill payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillRequest {
    /// What the user sent, and who sent it.
    pub user_request: UserRequest,
    /// The skill call: parameters the block extracted.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub action: Option<Action>,
    /// The bot that received the message.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub bot: Option<Bot>,
    /// The block that matched.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub intent: Option<Intent>,
    /// Active conversation contexts, passed through untouched.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub contexts: Vec<Value>,
    /// How the user reached the block.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub flow: Option<Flow>,
}

impl SkillRequest {
    /// The request Kakao sends when a user types `utterance` into a block that extracts no
    /// parameters: what `encore ask` and the soak send, from the user `encore-cli`.
    pub fn typed(utterance: &str) -> Self {
        let raw = serde_json::json!({
            "userRequest": {
                "timezone": "Asia/Seoul",
                "utterance": utterance,
                "lang": "ko",
                "user": { "id": "encore-cli", "type": "botUserKey", "properties": {} }
            },
            "action": { "params": {}, "detailParams": {} }
        });
        serde_json::from_value(raw).unwrap_or_else(|_| unreachable!("a fixed, valid skill request"))
    }

    /// The text of action parameter `name` (see [`Action::param`]) when the block
    /// extracted one, else the utterance.
    pub fn param_or_utterance(&self, name: &str) -> Cow<'_, str> {
        self.action
            .as_ref()
            .and_then(|action| action.param(name))
            .unwrap_or(Cow::Borrowed(self.user_request.utterance.as_str()))
    }

    /// The id of the bot that received the message, for logs.
    pub fn bot_id(&self) -> Option<&str> {
        self.bot.as_ref().and_then(|bot| bot.id.as_deref())
    }

    /// The id of the block that handled the message (`userRequest.block`, else
    /// `intent`), for logs.
    pub fn block_id(&self) -> Option<&str> {
        self.user_request
            .block
            .as_ref()
            .and_then(|block| block.id.as_deref())
            .or_else(|| self.intent.as_ref().and_then(|i| i.id.as_deref()))
    }
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
    /// callbacks enabled (valid for one minute, usable once). Anything but a non-blank
    /// string reads as absent.
    #[serde(
        default,
        deserialize_with = "lenient_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub callback_url: Option<String>,
    /// "ko" in real traffic ("kr" in older docs), `null` from the skill-test tool.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub lang: Option<String>,
    /// Request parameters such as `surface`, or `media` for a picture the user sent.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub params: HashMap<String, Value>,
    /// The block that handled the message.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub block: Option<Block>,
    /// The user's time zone, e.g. "Asia/Seoul".
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub timezone: Option<String>,
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The bot-scoped user key (differs per bot; up to 70 characters).
    pub id: String,
    /// "botUserKey" in real traffic, "accountId" from the skill-test tool,
    /// "talk_user_id" in the v1 docs; any text is kept.
    #[serde(
        default,
        rename = "type",
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    /// Extra keys about the user (`plusfriendUserKey`, `isFriend`, and undocumented
    /// snake_case duplicates), kept as sent.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Map::is_empty"
    )]
    pub properties: Map<String, Value>,
}

/// The skill call, with the parameters the block extracted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    /// The skill's name.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Entity name → value: a string for custom entities, for system entities an object
    /// or an object encoded in a string.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub params: HashMap<String, Value>,
    /// Entity name → the raw text and the resolved value (entries that are not objects
    /// are left out).
    #[serde(
        default,
        deserialize_with = "lenient_map",
        skip_serializing_if = "HashMap::is_empty"
    )]
    pub detail_params: HashMap<String, DetailParam>,
    /// `extra` of the button, quick reply or list item that triggered the block, when
    /// it is an object (`null` and the v1 docs' `"null"` read as none).
    #[serde(
        default,
        deserialize_with = "lenient_object",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_extra: Option<Value>,
}

impl Action {
    /// The value of parameter `name` as text, the first of:
    /// 1. `params[name]` as plain text (a string, or a number);
    /// 2. `detailParams[name].value` as plain text (the entity's canonical value);
    /// 3. `detailParams[name].origin` (what the user typed);
    /// 4. the `origin` or else `value` string of an entity object in `params[name]` or
    ///    `detailParams[name].value` (also when the object arrives encoded in a string).
    ///
    /// Blank text is skipped; `None` when nothing usable is there.
    pub fn param(&self, name: &str) -> Option<Cow<'_, str>> {
        let direct = self.params.get(name);
        let detail = self.detail_params.get(name);
        direct
            .and_then(plain_text)
            .or_else(|| detail.and_then(|d| plain_text(&d.value)))
            .or_else(|| {
                detail
                    .and_then(|d| d.origin.as_deref())
                    .filter(|text| !text.trim().is_empty())
                    .map(Cow::Borrowed)
            })
            .or_else(|| direct.and_then(entity_text))
            .or_else(|| detail.and_then(|d| entity_text(&d.value)))
    }
}

/// A string that is not an encoded JSON object, or a number, as non-blank text.
fn plain_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(text) if encoded_object(text).is_none() => {
            Some(Cow::Borrowed(text.as_str())).filter(|text| !text.trim().is_empty())
        }
        Value::Number(number) => Some(Cow::Owned(number.to_string())),
        _ => None,
    }
}

/// The object a string encodes, for system entities sent as JSON in a string.
fn encoded_object(text: &str) -> Option<Map<String, Value>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// The `origin`, else the `value`, string of an entity object (or of one encoded in a
/// string), non-blank.
fn entity_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::Object(object) => entity_field(object).map(Cow::Borrowed),
        Value::String(text) => encoded_object(text)
            .and_then(|object| entity_field(&object).map(str::to_owned))
            .map(Cow::Owned),
        _ => None,
    }
}

/// The first non-blank string of an entity object's `origin` and `value`.
fn entity_field(object: &Map<String, Value>) -> Option<&str> {
    ["origin", "value"]
        .iter()
        .filter_map(|key| object.get(*key).and_then(Value::as_str))
        .find(|text| !text.trim().is_empty())
}

/// One extracted parameter in detail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetailParam {
    /// The text as the user typed it.
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub origin: Option<String>,
    /// The entity's resolved value: a string for custom entities, an object (or an
    /// object encoded in a string) for system entities.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub value: Value,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_name: Option<String>,
}

/// The bot that received the message (its id ends in `!` in real traffic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bot {
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
}

/// The block that matched the message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Knowledge-base details when a 지식+ answer matched, or the match reason, passed
    /// through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Value>,
}

/// A block reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Block {
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
}

/// How the user reached the block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub trigger: Option<Trigger>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_block: Option<Block>,
}

/// What triggered the block: `TEXT_INPUT`, `LIST_ITEM_BLOCK`, `QUICKREPLY_BUTTON_MESSAGE`, …
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(
        default,
        rename = "type",
        deserialize_with = "lenient_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
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

    fn artist(request: &SkillRequest) -> Option<String> {
        request
            .action
            .as_ref()
            .and_then(|a| a.param("artist"))
            .map(Cow::into_owned)
    }

    #[test]
    fn samples_round_trip() {
        let plain = round_trip(&sample("kakao-skill-request.json"));
        assert_eq!(plain.user_request.utterance, "BTS");
        assert_eq!(plain.user_request.callback_url, None);
        assert_eq!(artist(&plain).as_deref(), Some("BTS"));
        assert_eq!(plain.bot_id(), Some("6400aa11bb22cc33dd44ee55!"));
        assert_eq!(plain.block_id(), Some("5f0e1a2b3c4d5e6f7a8b9c0d"));
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
        assert_eq!(artist(&callback), None);
        assert_eq!(callback.param_or_utterance("artist"), "방탄소년단");
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

    /// Every payload of the corpus parses and writes back only what it read.
    #[test]
    fn the_real_payload_corpus_parses() {
        let dir = format!("{}/../../events/samples/kakao", env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let raw = std::fs::read_to_string(&path).unwrap();
            let parsed = std::panic::catch_unwind(|| round_trip(&raw))
                .unwrap_or_else(|_| panic!("{} does not parse or round-trip", path.display()));
            assert!(
                !parsed.user_request.user.id.is_empty(),
                "{}",
                path.display()
            );
            seen += 1;
        }
        assert!(seen >= 8, "only {seen} payloads in {dir}");
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
        assert_eq!(artist(&parsed).as_deref(), Some("아이유"));
    }

    /// A field the skill does not use never refuses a request, whatever its type.
    #[test]
    fn wrong_types_in_unused_fields_read_as_absent() {
        let raw = r#"{"userRequest":{"utterance":"BTS","user":{"id":"u","type":7,"properties":"x"},
              "lang":5,"timezone":{},"params":"null","block":3,"callbackUrl":{"url":"x"}},
            "action":{"id":1,"name":null,"params":[],"detailParams":{"a":"str","b":{"origin":7,"value":[1]}},
              "clientExtra":"null"},
            "bot":"encore","intent":5,"contexts":{},"flow":"TEXT_INPUT"}"#;
        let parsed: SkillRequest = serde_json::from_str(raw).unwrap();
        assert_eq!(parsed.user_request.utterance, "BTS");
        assert_eq!(parsed.user_request.user.kind.as_deref(), Some("7"));
        assert!(parsed.user_request.user.properties.is_empty());
        assert_eq!(parsed.user_request.lang.as_deref(), Some("5"));
        assert_eq!(parsed.user_request.callback_url, None);
        assert!(parsed.user_request.params.is_empty());
        assert_eq!(parsed.user_request.block, None);
        let action = parsed.action.as_ref().unwrap();
        assert_eq!(action.id.as_deref(), Some("1"));
        assert_eq!(action.client_extra, None);
        assert_eq!(
            action.detail_params.len(),
            1,
            "the string entry is left out"
        );
        assert_eq!(action.detail_params["b"].origin.as_deref(), Some("7"));
        assert_eq!(
            (&parsed.bot, &parsed.intent, &parsed.flow),
            (&None, &None, &None)
        );
        assert!(parsed.contexts.is_empty());
        assert_eq!(parsed.param_or_utterance("artist"), "BTS");
        assert_eq!(parsed.param_or_utterance("b"), "7");

        for callback in [r#""""#, r#""  ""#, "null", "42", "[]"] {
            let raw = format!(
                r#"{{"userRequest":{{"utterance":"x","user":{{"id":"u"}},"callbackUrl":{callback}}}}}"#
            );
            let parsed: SkillRequest = serde_json::from_str(&raw).unwrap();
            assert_eq!(parsed.user_request.callback_url, None, "{callback}");
        }
    }

    #[test]
    fn required_fields_and_types_are_enforced() {
        for raw in [
            r#"{}"#,
            r#"{"userRequest":{"user":{"id":"u"}}}"#,
            r#"{"userRequest":{"utterance":"x"}}"#,
            r#"{"userRequest":{"utterance":"x","user":{}}}"#,
            r#"{"userRequest":{"utterance":null,"user":{"id":"u"}}}"#,
            r#"{"userRequest":{"utterance":5,"user":{"id":"u"}}}"#,
            r#"{"userRequest":{"utterance":"x","user":{"id":7}}}"#,
            r#"{"userRequest":{"utterance":"x","user":"u"}}"#,
            r#"{"userRequest":"x"}"#,
            r#"[]"#,
            r#"{"userRequest":{"utterance":"x","user":{"id":"u"}}"#,
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
                value: Value::String(" ".into()),
                group_name: None,
            },
        );
        assert_eq!(action.param("artist").as_deref(), Some("raw"));
        action.detail_params.get_mut("artist").unwrap().value = Value::String("value".into());
        assert_eq!(action.param("artist").as_deref(), Some("value"));
        action
            .params
            .insert("artist".into(), Value::String("param".into()));
        assert_eq!(action.param("artist").as_deref(), Some("param"));
        assert_eq!(action.param("other"), None);
    }

    /// System entities arrive as objects (real traffic) or as objects encoded in strings
    /// (Kakao's docs); an artist parameter given as an entity object still reads as text.
    #[test]
    fn entity_objects_read_as_their_text() {
        let raw = r#"{"userRequest":{"utterance":"3곡 들려줘","user":{"id":"u"}},
            "action":{"params":{"sys_number":{"amount":3,"unit":"곡"},
                "sys_date":"{\"dateTag\": null, \"date\": \"2026-12-01\"}",
                "artist":{"value":"IU","origin":"아이유"}},
              "detailParams":{"sys_number":{"origin":"3곡","value":{"amount":3,"unit":"곡"},"groupName":""},
                "sys_date":{"origin":"오늘","value":"{\"date\": \"2026-12-01\"}","groupName":""},
                "artist":{"origin":"아이유","value":{"value":"IU"},"groupName":""}}}}"#;
        let parsed = round_trip(raw);
        let action = parsed.action.as_ref().unwrap();
        assert_eq!(action.param("sys_number").as_deref(), Some("3곡"));
        assert_eq!(action.param("sys_date").as_deref(), Some("오늘"));
        assert_eq!(action.param("artist").as_deref(), Some("아이유"));

        let only_params = r#"{"userRequest":{"utterance":"x","user":{"id":"u"}},
            "action":{"params":{"artist":{"value":"IU","origin":" "},"encoded":"{\"origin\":\"태연\"}",
              "count":3,"blank":"  "}}}"#;
        let parsed = round_trip(only_params);
        let action = parsed.action.as_ref().unwrap();
        assert_eq!(action.param("artist").as_deref(), Some("IU"));
        assert_eq!(action.param("encoded").as_deref(), Some("태연"));
        assert_eq!(action.param("count").as_deref(), Some("3"));
        assert_eq!(action.param("blank"), None);
        assert_eq!(parsed.param_or_utterance("blank"), "x");
    }
}
