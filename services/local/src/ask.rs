//! `encore chat`: one utterance through the skill handler, as Kakao with a callback sees
//! it. The immediate answer is printed; when it is "looking it up" (a name the cache does
//! not know), the embedded pipeline runs in this process until that request is finished
//! (or [`WAIT_LIMIT`] passes) and the final answer is printed too.

use std::time::{Duration, Instant};

use encore_chat::skill::Query;
use encore_chat::{handle_skill, Answer, AnswerKind, ChatSettings};
use encore_kakao::SkillRequest;
use encore_platform::config::Env;
use encore_store::{RequestLog, RequestStatus};

use crate::stack::{CatalogSource, Stack};

/// Longest `encore chat` runs the pipeline for one request: Kakao's callback window.
pub const WAIT_LIMIT: Duration = encore_kakao::callback::CALLBACK_VALIDITY;
/// How long one ingest step waits on an empty queue.
const STEP_WAIT: Duration = Duration::from_millis(200);

/// How `encore chat` ends, as its exit status says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatExit {
    /// The artist's card (exit 0).
    Card,
    /// No such artist (exit 3).
    NotFound,
    /// Anything else: help for meaningless input, a failure, still looking when the wait
    /// ran out, or ingest giving up on the request (exit 1).
    Error,
}

impl ChatExit {
    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            Self::Card => 0,
            Self::NotFound => 3,
            Self::Error => 1,
        }
    }

    fn of(kind: AnswerKind) -> Self {
        match kind {
            AnswerKind::Related | AnswerKind::WithoutRelated => Self::Card,
            AnswerKind::NotFound => Self::NotFound,
            _ => Self::Error,
        }
    }
}

/// What `encore chat` was asked for.
#[derive(Debug, Clone)]
pub struct ChatOptions {
    pub utterance: String,
    /// Only the immediate answer, as before the pipeline ran in `encore chat`.
    pub no_wait: bool,
    /// The catalog the pipeline reads (ignored with Spotify credentials).
    pub catalog: CatalogSource,
}

/// Answers `options.utterance`, handing each answer to `print` (the immediate one, then
/// the final one when the pipeline ran).
pub async fn chat(
    stack: &Stack,
    options: &ChatOptions,
    env: &Env,
    print: impl Fn(&Answer) -> anyhow::Result<()>,
) -> anyhow::Result<ChatExit> {
    let settings = ChatSettings::from_env(env)?;
    let chat = stack.chat(settings.clone());
    let request = SkillRequest::typed(&options.utterance);
    let answer = handle_skill(&request, &chat).await;
    print(&answer)?;
    let waiting = matches!(answer.kind, AnswerKind::LookingUp | AnswerKind::Waiting);
    let Query::Artist { normalized, .. } = Query::read(&request) else {
        return Ok(ChatExit::of(answer.kind));
    };
    if options.no_wait || !waiting {
        return Ok(ChatExit::of(answer.kind));
    }
    let (_catalog, client) = stack.catalog(env, &options.catalog).await?;
    let ingest = stack.ingest(client, settings.callback_hosts);
    let deadline = Instant::now() + WAIT_LIMIT;
    let finished = loop {
        match stack.store.status(&normalized).await? {
            Some(status) if status != RequestStatus::Pending => break Some(status),
            _ => {}
        }
        if Instant::now() >= deadline {
            break None;
        }
        stack.ingest_step(&ingest, STEP_WAIT).await?;
        stack.lake_step(Duration::ZERO).await?;
    };
    match finished {
        Some(RequestStatus::Failed) => {
            eprintln!(
                "ingest gave up on this request (see `encore replay --queue ingest --dry-run`)"
            );
            Ok(ChatExit::Error)
        }
        Some(_) => {
            chat.invalidate();
            let answer = handle_skill(&request, &chat).await;
            print(&answer)?;
            Ok(ChatExit::of(answer.kind))
        }
        None => {
            eprintln!(
                "still looking after {} s; ask again in a moment",
                WAIT_LIMIT.as_secs()
            );
            Ok(ChatExit::Error)
        }
    }
}
