//! encore: the whole pipeline in one process on one machine, and the operator's command
//! line. The runner wires the same handlers the Lambdas run, over embedded adapters.
pub mod ask;
pub mod backfill;
pub mod catch_up;
pub mod first_run;
pub mod page;
pub mod refresh;
pub mod report;
pub mod serve;
pub mod stack;
pub mod status;
