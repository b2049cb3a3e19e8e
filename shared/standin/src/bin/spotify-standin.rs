//! `spotify-standin`: serves a songs CSV as a Spotify-like API until interrupted, and
//! prints its base URL (use it as both the accounts base and, with `/v1`, the API base).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use encore_standin::{Catalog, Faults, StandIn};
use tracing_subscriber::EnvFilter;

/// Serve the songs data set through Spotify's endpoints.
#[derive(Debug, Parser)]
#[command(name = "spotify-standin", version)]
struct Args {
    /// A CSV with the songs data set's columns (gzipped when it ends in .gz).
    #[arg(long, default_value = encore_standin::DATA_SET)]
    catalog: PathBuf,
    /// Where to listen; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Behave like an app in Spotify's Development Mode.
    #[arg(long)]
    dev_mode: bool,
    /// Delay every answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .compact()
        .init();
    let args = Args::parse();
    let catalog = Catalog::load(&args.catalog)?;
    let faults = Faults {
        dev_mode: args.dev_mode,
        latency: Duration::from_millis(args.latency_ms),
        ..Faults::default()
    };
    let server = StandIn::new(Arc::new(catalog))
        .with_faults(faults)
        .serve(args.addr)
        .await?;
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
