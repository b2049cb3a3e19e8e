//! The chat service: answers Kakao skill requests from the caches, and requests the
//! artists they do not know yet.
//!
//! - [`skill`]: the use case, [`handle_skill`], over the ports ([`Stores`]).
//! - [`answer`]: an answer as sent (kind, response, body), made by the use case and kept
//!   by the cache.
//! - [`cache`]: the in-memory read-through cache of rendered answers.
//! - [`http`]: the endpoint at the HTTP level (secret, size, parsing), shared by
//! - [`server`] (axum, the local runner) and [`lambda`] (API Gateway v2 events).
//! - [`config`]: the Lambda's configuration and the chat's settings; [`secret`]: the
//!   shared-secret check.
//!
//! `src/main.rs` is the Lambda (MySQL, DynamoDB, EventBridge); the `encore` runner serves
//! [`server::router`] over SQLite and the embedded bus.

pub mod answer;
pub mod cache;
pub mod config;
pub mod http;
pub mod lambda;
pub mod secret;
pub mod server;
pub mod skill;
pub mod stores;
pub mod suggestions;

pub use answer::{Answer, AnswerKind};
pub use config::{ChatSettings, Config};
pub use http::{handle_http, HttpReply, RawBody, SkillEndpoint};
pub use secret::{SecretGuard, SkillSecret};
pub use skill::{handle_skill, Chat, ChatError};
pub use stores::Stores;
