//! `cargo run --release -p encore-similarity --example knn-bench -- …`: the same flags as
//! `encore bench knn` (`--input FILE | --artists N --seed S`, `--k`, `--output`, `--dump`),
//! plus `--check N` (brute-force check of N artists), leaf-size sweeps via
//! `--leaf-sizes 16,32,64` (timing only) and `--f32-check N`, which measures how many of N
//! artists' neighbour sets would change if the standardized points were stored and
//! measured in `f32` instead of `f64` (both by brute force). `--spread varied` generates
//! clusters of widely different spread and size instead of even ones. `--kiddo` also runs
//! a straightforward kiddo 5 immutable kd-tree (f64, one `nearest_n` query per point in
//! parallel through rayon) on the same standardized points in the same run, and prints
//! `kiddo_seconds=…`, the engine's seconds on the same points and the two lists' agreement.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;

use encore_similarity::{
    bench_knn, brute_force_knn, exact_knn, exact_knn_with, generate, read_features, standardize,
    KnnBench, KnnConfig, KnnInput, Points, Spread, SyntheticSpec, DEFAULT_K,
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("knn-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut input = None;
    let mut artists = None;
    let mut seed = 42u64;
    let mut k = DEFAULT_K;
    let mut output = None;
    let mut dump = None;
    let mut check = 0usize;
    let mut leaf_sizes = Vec::new();
    let mut f32_check = 0usize;
    let mut spread = Spread::Even;
    let mut kiddo = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--input" => input = Some(PathBuf::from(value()?)),
            "--artists" => artists = Some(parse(&value()?)?),
            "--seed" => seed = parse(&value()?)?,
            "--k" => k = parse(&value()?)?,
            "--output" => output = Some(PathBuf::from(value()?)),
            "--dump" => dump = Some(PathBuf::from(value()?)),
            "--check" => check = parse(&value()?)?,
            "--f32-check" => f32_check = parse(&value()?)?,
            "--spread" => {
                spread = match value()?.as_str() {
                    "even" => Spread::Even,
                    "varied" => Spread::Varied,
                    other => return Err(format!("--spread: {other:?} is not even or varied")),
                }
            }
            "--kiddo" => kiddo = true,
            "--leaf-sizes" => {
                leaf_sizes = value()?
                    .split(',')
                    .map(parse)
                    .collect::<Result<Vec<usize>, String>>()?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let input = match (input, artists) {
        (Some(path), None) => KnnInput::Csv(path),
        (None, Some(n)) => KnnInput::Synthetic(SyntheticSpec::new(n, seed).with_spread(spread)),
        _ => return Err("give exactly one of --input FILE or --artists N".into()),
    };
    if !leaf_sizes.is_empty() {
        return sweep(&input, k, &leaf_sizes);
    }
    if f32_check > 0 {
        return compare_f32(&input, k, f32_check);
    }
    if kiddo {
        return against_kiddo(&input, k);
    }
    let report = bench_knn(&KnnBench {
        input,
        k,
        output,
        dump,
        check,
    })
    .map_err(|e| e.to_string())?;
    println!("{report}");
    Ok(())
}

/// Times the engine at several leaf sizes on the same standardized points.
fn sweep(input: &KnnInput, k: usize, leaf_sizes: &[usize]) -> Result<(), String> {
    let matrix = match input {
        KnnInput::Csv(path) => read_features(path).map_err(|e| e.to_string())?,
        KnnInput::Synthetic(spec) => generate(*spec),
    };
    let (points, _) = standardize(&matrix).map_err(|e| e.to_string())?;
    for &leaf_size in leaf_sizes {
        let started = Instant::now();
        let neighbours = exact_knn_with(&points, k, KnnConfig { leaf_size });
        println!(
            "leaf_size={leaf_size} seconds={:.3} artists={}",
            started.elapsed().as_secs_f64(),
            neighbours.len()
        );
    }
    Ok(())
}

/// The engine and a straightforward kiddo tree on the same standardized points, timed in
/// the same run (tree build and queries; standardization excluded from both).
fn against_kiddo(input: &KnnInput, k: usize) -> Result<(), String> {
    let matrix = match input {
        KnnInput::Csv(path) => read_features(path).map_err(|e| e.to_string())?,
        KnnInput::Synthetic(spec) => generate(*spec),
    };
    let (points, _) = standardize(&matrix).map_err(|e| e.to_string())?;
    if points.dims() != KIDDO_DIMS {
        return Err(format!(
            "--kiddo needs {KIDDO_DIMS} features after standardization, found {}",
            points.dims()
        ));
    }
    let started = Instant::now();
    let found = kiddo_knn(&points, k);
    let kiddo_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let neighbours = exact_knn(&points, k);
    let engine_seconds = started.elapsed().as_secs_f64();
    let different_sets = (0..points.len())
        .into_par_iter()
        .filter(|&i| {
            let mut engine: Vec<usize> = neighbours.of(i).map(|(j, _)| j).collect();
            let mut other = found[i].clone();
            engine.sort_unstable();
            other.sort_unstable();
            engine != other
        })
        .count();
    println!(
        "artists={} kiddo_seconds={kiddo_seconds:.3} engine_seconds={engine_seconds:.3} \
         speedup={:.2} different_sets_vs_kiddo={different_sets}",
        points.len(),
        kiddo_seconds / engine_seconds
    );
    Ok(())
}

/// Dimensions of the kiddo comparison (kiddo's trees are typed by their width).
const KIDDO_DIMS: usize = 9;

/// kiddo 5's immutable tree over `f64` points, each point's `k + 1` nearest (itself
/// included) through rayon, itself then dropped; returns point indices per point.
fn kiddo_knn(points: &Points, k: usize) -> Vec<Vec<usize>> {
    use kiddo::immutable::float::kdtree::ImmutableKdTree;
    use kiddo::SquaredEuclidean;
    let rows: Vec<[f64; KIDDO_DIMS]> = (0..points.len())
        .map(|i| std::array::from_fn(|d| points.row(i)[d]))
        .collect();
    let tree: ImmutableKdTree<f64, u32, KIDDO_DIMS, 32> = ImmutableKdTree::new_from_slice(&rows);
    let Some(wanted) = std::num::NonZero::new(k + 1) else {
        return vec![Vec::new(); rows.len()];
    };
    rows.par_iter()
        .enumerate()
        .map(|(i, row)| {
            tree.nearest_n::<SquaredEuclidean>(row, wanted)
                .into_iter()
                .map(|n| n.item as usize)
                .filter(|&j| j != i)
                .take(k)
                .collect()
        })
        .collect()
}

/// Brute force over `f32`-rounded points summed in `f32`, against the `f64` brute force.
fn compare_f32(input: &KnnInput, k: usize, sample: usize) -> Result<(), String> {
    let matrix = match input {
        KnnInput::Csv(path) => read_features(path).map_err(|e| e.to_string())?,
        KnnInput::Synthetic(spec) => generate(*spec),
    };
    let (points, _) = standardize(&matrix).map_err(|e| e.to_string())?;
    let n = points.len();
    let sample = sample.min(n);
    let queries: Vec<usize> = (0..sample).map(|i| i * n / sample).collect();
    let exact = brute_force_knn(&points, k, &queries);
    let narrow: Vec<f32> = points.values().iter().map(|&v| v as f32).collect();
    let dims = points.dims();
    let differing = queries
        .par_iter()
        .zip(&exact)
        .filter(|(&q, want)| {
            let query = &narrow[q * dims..(q + 1) * dims];
            let mut all: Vec<(f32, usize)> = (0..n)
                .filter(|&j| j != q)
                .map(|j| {
                    let row = &narrow[j * dims..(j + 1) * dims];
                    let d = row
                        .iter()
                        .zip(query)
                        .fold(0.0f32, |s, (&x, &y)| s + (x - y) * (x - y));
                    (d, j)
                })
                .collect();
            let kk = want.len();
            if kk == 0 {
                return false;
            }
            all.select_nth_unstable_by(kk.saturating_sub(1), |a, b| {
                a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
            });
            let mut got: Vec<usize> = all[..kk].iter().map(|&(_, j)| j).collect();
            let mut expected: Vec<usize> = want.iter().map(|&(j, _)| j).collect();
            got.sort_unstable();
            expected.sort_unstable();
            got != expected
        })
        .count();
    println!("f32_check queries={sample} different_sets_vs_f64={differing}");
    Ok(())
}

fn parse<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a valid number"))
}
