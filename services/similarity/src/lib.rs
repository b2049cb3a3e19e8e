//! The similarity service: the daily work at 03:00 KST — the refresh of the artists users
//! asked about recently, then the job from the lake to the related-artists datamart.
//!
//! [`run_similarity`] is the job (lake SQL → exact k-NN → atomic datamart swap), called by
//! the Lambda's [`handle_event`] and by the `encore similarity run` command, which shows
//! the job's [`Progress`] as bars. [`request_refresh`] publishes the refresh requests, from
//! the scheduled Lambda, `encore serve`'s schedule and `encore refresh`.

pub mod catch_up;
pub mod config;
pub mod handler;
pub mod job;
pub mod refresh;
pub mod trigger;

pub use catch_up::{catch_up_decision, CatchUpDecision, LAKE_LAG};
pub use config::Config;
pub use handler::{handle_event, HandlerError, Outcome, Similarity};
pub use job::{run_similarity, snapshot_date, JobError, JobSummary, Phase, Progress, Settings};
pub use refresh::{request_refresh, RefreshError, RefreshSummary, REFRESH_WINDOW_DAYS};
pub use trigger::{Trigger, TriggerError};
