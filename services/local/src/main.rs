//! `encore`: the operator's command line and the embedded all-in-one runner.

use clap::Parser;

/// encore: artist recommendations for KakaoTalk, on one machine or on AWS.
#[derive(Debug, Parser)]
#[command(name = "encore", version, about)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    encore_platform::logging::init();
    let _cli = Cli::parse();
    anyhow::bail!("the embedded runner is not built yet (issue: the embedded default)")
}
