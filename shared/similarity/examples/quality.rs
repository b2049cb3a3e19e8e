//! `cargo run --release -p encore-similarity --example quality`: genre agreement@4 of the
//! engine (plain z-score and the job's default profile) against the reference method.
//! `--songs FILE` overrides the data set path.

use std::path::PathBuf;
use std::process::ExitCode;

use encore_similarity::evaluation::{evaluate, songs_path};
use encore_similarity::Profile;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut path = songs_path();
    let mut profiles = vec![("plain", Profile::Plain), ("default", Profile::default())];
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--songs", Some(file)) => path = PathBuf::from(file),
            ("--prior-tracks", Some(value)) => match value.parse() {
                Ok(prior_tracks) => profiles.push(("shrunk", Profile::Shrunk { prior_tracks })),
                Err(_) => return fail(&format!("--prior-tracks: {value:?} is not a number")),
            },
            _ => return fail(&format!("unknown or incomplete flag {flag}")),
        }
    }
    for (name, profile) in profiles {
        match evaluate(&path, profile) {
            Ok(report) => println!(
                "profile={name} ({profile:?}) artists={} agreement_at_4 engine={:.4} reference={:.4}",
                report.artists, report.engine, report.reference
            ),
            Err(error) => return fail(&error.to_string()),
        }
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("quality: {message}");
    ExitCode::FAILURE
}
