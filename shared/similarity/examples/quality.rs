//! `cargo run --release -p encore-similarity --example quality`: genre and subgenre
//! agreement@4 of the engine (plain z-score and the job's default profile) against the
//! reference method, on the whole data set as the pool and on the query artists alone.
//! `--songs FILE` overrides the data set path; `--prior-tracks P` adds the shrunk profile,
//! `--count-weight W` the count-aware profile with another weight.

use std::path::PathBuf;
use std::process::ExitCode;

use encore_similarity::evaluation::{evaluate, Agreement};
use encore_similarity::Profile;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut path = encore_similarity::evaluation::songs_path();
    let mut profiles = vec![("plain", Profile::Plain), ("default", Profile::default())];
    while let Some(flag) = args.next() {
        let value = args.next();
        let number = |value: &Option<String>| value.as_deref().and_then(|v| v.parse::<f64>().ok());
        match (flag.as_str(), &value) {
            ("--songs", Some(file)) => path = PathBuf::from(file),
            ("--prior-tracks", _) => match number(&value) {
                Some(prior_tracks) => profiles.push(("shrunk", Profile::Shrunk { prior_tracks })),
                None => return fail(&format!("--prior-tracks: {value:?} is not a number")),
            },
            ("--count-weight", _) => match number(&value) {
                Some(weight) => profiles.push(("count-aware", Profile::CountAware { weight })),
                None => return fail(&format!("--count-weight: {value:?} is not a number")),
            },
            _ => return fail(&format!("unknown or incomplete flag {flag}")),
        }
    }
    let line = |a: &Agreement| {
        format!(
            "pool={} genre={:.4} subgenre={:.4}",
            a.pool, a.genre, a.subgenre
        )
    };
    for (name, profile) in profiles {
        match evaluate(&path, profile) {
            Ok(report) => {
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
            Err(error) => return fail(&error.to_string()),
        }
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("quality: {message}");
    ExitCode::FAILURE
}
