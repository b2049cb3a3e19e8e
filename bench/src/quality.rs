//! `encore bench quality`: genre and subgenre agreement@4 of the engine (plain z-score and
//! the job's default profile) against the reference method, on the whole data set as the
//! pool and on the query artists alone ([`crate::evaluation`] says how it is scored).

use std::path::PathBuf;

use clap::Args;
use encore_similarity::Profile;

use crate::evaluation::{evaluate, Agreement};

/// `encore bench quality`'s flags.
#[derive(Debug, Args)]
pub struct QualityArgs {
    /// The songs data set (default: the one beside the checkout, `../shared/data`).
    #[arg(long)]
    pub songs: Option<PathBuf>,
    /// Also score the shrunk profile with this many prior tracks.
    #[arg(long)]
    pub prior_tracks: Option<f64>,
    /// Also score the count-aware profile with this weight.
    #[arg(long)]
    pub count_weight: Option<f64>,
}

/// Scores each profile and prints one block per profile.
pub fn run(args: QualityArgs) -> anyhow::Result<()> {
    let path = args.songs.unwrap_or_else(encore_standin::data_set_path);
    let mut profiles = vec![("plain", Profile::Plain), ("default", Profile::default())];
    if let Some(prior_tracks) = args.prior_tracks {
        profiles.push(("shrunk", Profile::Shrunk { prior_tracks }));
    }
    if let Some(weight) = args.count_weight {
        profiles.push(("count-aware", Profile::CountAware { weight }));
    }
    let line = |a: &Agreement| {
        format!(
            "pool={} genre={:.4} subgenre={:.4}",
            a.pool, a.genre, a.subgenre
        )
    };
    for (name, profile) in profiles {
        let report = evaluate(&path, profile)?;
        println!(
            "profile={name} ({profile:?}) query_artists={}",
            report.artists
        );
        println!(
            "  whole pool: engine {} | reference {}",
            line(&report.engine),
            line(&report.reference)
        );
        println!(
            "  rich pool:  engine {} | reference {}",
            line(&report.engine_rich),
            line(&report.reference_rich)
        );
    }
    Ok(())
}
