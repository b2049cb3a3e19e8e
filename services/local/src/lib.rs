//! encore: the whole pipeline in one process on one machine, and the operator's command line.
pub mod page;
