//! `encore bench knn`: CSV in (or synthetic artists), exact neighbours out, and the time
//! standardize + k-NN took; with `--kiddo`, `--leaf-sizes` or `--f32-check` one of the
//! its studies instead (beside a kd-tree, leaf sizes, f32 precision).

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, ValueEnum};
use encore_similarity::{
    brute_force_knn, exact_knn, standardize, FeatureMatrix, Neighbours, Points, SimilarityError,
    DEFAULT_K, MAX_LEAF_SIZE,
};
use thiserror::Error;

use crate::knn_studies;
use crate::synthetic::{generate, Spread, SyntheticSpec};

/// `encore bench knn`'s flags.
#[derive(Debug, Args)]
pub struct KnnArgs {
    /// Rows `id,f1,…,fn` with a header line.
    #[arg(long, conflicts_with = "artists")]
    pub input: Option<PathBuf>,
    /// Generate this many clustered synthetic artists instead.
    #[arg(long)]
    pub artists: Option<usize>,
    /// Seed of the synthetic set.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// How the synthetic clusters differ: even spreads, or spreads and sizes far apart.
    #[arg(long, value_enum, default_value_t = SpreadArg::Even)]
    pub spread: SpreadArg,
    /// Neighbours per artist.
    #[arg(long, default_value_t = DEFAULT_K)]
    pub k: usize,
    /// Where to write id,rank,neighbor_id,distance.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Where to write the input rows (so another tool can run on the same data).
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// Artists whose neighbours are checked against a brute force (0: none).
    #[arg(long, default_value_t = 0)]
    pub check: usize,
    /// Also run a straightforward kiddo 5 immutable kd-tree (f64, rayon) on the same
    /// standardized points, and print `kiddo_seconds=…` beside the engine's seconds.
    #[arg(long)]
    pub kiddo: bool,
    /// Time the engine at these leaf sizes instead (`16,32,64`; at most `MAX_LEAF_SIZE`).
    #[arg(long, value_delimiter = ',')]
    pub leaf_sizes: Vec<usize>,
    /// Count how many of N artists' neighbour sets change if the points were stored and
    /// measured in f32 (both by brute force).
    #[arg(long, default_value_t = 0)]
    pub f32_check: usize,
}

/// [`Spread`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpreadArg {
    /// Clusters of similar spread.
    Even,
    /// Spreads 0.03–1.0 and sizes 1:20 apart.
    Varied,
}

/// Runs `encore bench knn` and prints its figures.
pub fn run(args: KnnArgs) -> anyhow::Result<()> {
    let spread = match args.spread {
        SpreadArg::Even => Spread::Even,
        SpreadArg::Varied => Spread::Varied,
    };
    let input = match (args.input, args.artists) {
        (Some(path), _) => KnnInput::Csv(path),
        (None, Some(n)) => {
            KnnInput::Synthetic(SyntheticSpec::new(n, args.seed).with_spread(spread))
        }
        (None, None) => anyhow::bail!("give --input FILE.csv or --artists N"),
    };
    if !args.leaf_sizes.is_empty() {
        anyhow::ensure!(
            args.leaf_sizes
                .iter()
                .all(|size| (1..=MAX_LEAF_SIZE).contains(size)),
            "--leaf-sizes: each from 1 to {MAX_LEAF_SIZE}"
        );
        return knn_studies::leaf_sizes(&load(&input)?, args.k, &args.leaf_sizes);
    }
    if args.f32_check > 0 {
        return knn_studies::f32_check(&load(&input)?, args.k, args.f32_check);
    }
    if args.kiddo {
        return knn_studies::against_kiddo(&load(&input)?, args.k);
    }
    let report = bench_knn(&KnnBench {
        input,
        k: args.k,
        output: args.output,
        dump: args.dump,
        check: args.check,
    })?;
    println!("{report}");
    Ok(())
}

/// The input's rows, read or generated.
fn load(input: &KnnInput) -> Result<FeatureMatrix, BenchError> {
    match input {
        KnnInput::Csv(path) => read_features(path),
        KnnInput::Synthetic(spec) => Ok(generate(*spec)),
    }
}

/// Where the benchmark's artists come from.
#[derive(Debug, Clone, PartialEq)]
pub enum KnnInput {
    /// A CSV file with a header line and rows `id,f1,…,fn` (any number of feature columns).
    Csv(PathBuf),
    /// The clustered synthetic set, generated in memory.
    Synthetic(SyntheticSpec),
}

/// One run of the k-NN benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnBench {
    /// The artists to relate.
    pub input: KnnInput,
    /// Neighbours per artist.
    pub k: usize,
    /// Where to write `id,rank,neighbor_id,distance` (rank 1 the nearest), if anywhere.
    pub output: Option<PathBuf>,
    /// Where to write the input rows as CSV, so another tool can run on the same data.
    pub dump: Option<PathBuf>,
    /// Number of artists (evenly spread over the id order) whose neighbours are checked
    /// against the brute force; 0 for none.
    pub check: usize,
}

/// What the benchmark measured.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnBenchReport {
    /// Artists related.
    pub artists: usize,
    /// Feature columns kept after dropping constant ones.
    pub features: usize,
    /// Seconds spent standardizing and computing the exact top-k (no I/O).
    pub knn_seconds: f64,
    /// The brute-force check, when one was asked for.
    pub check: Option<BruteForceCheck>,
}

/// The outcome of comparing the engine with the brute force on a sample of artists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BruteForceCheck {
    /// Artists whose lists were compared.
    pub queries: usize,
    /// Artists whose neighbour set differed.
    pub different_sets: usize,
    /// Artists whose ordered lists (ids and distances) differed.
    pub different_lists: usize,
}

impl fmt::Display for KnnBenchReport {
    /// The lines the command prints; `knn_seconds=…` is always the last one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "artists={} features={}", self.artists, self.features)?;
        if let Some(check) = &self.check {
            writeln!(
                f,
                "brute_force_check queries={} different_sets={} different_lists={}",
                check.queries, check.different_sets, check.different_lists
            )?;
        }
        write!(f, "knn_seconds={:.3}", self.knn_seconds)
    }
}

/// Why the benchmark could not run.
#[derive(Debug, Error)]
pub enum BenchError {
    /// The input or output file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The CSV was malformed.
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    /// A feature cell is not a number.
    #[error("{path}: line {line}: {value:?} is not a number")]
    NotANumber {
        path: PathBuf,
        line: u64,
        value: String,
    },
    /// The rows were rejected by the engine.
    #[error(transparent)]
    Similarity(#[from] SimilarityError),
}

/// Runs the benchmark: loads or generates the artists, optionally dumps them, times
/// standardize + exact k-NN, optionally writes the neighbours and checks a sample.
pub fn bench_knn(bench: &KnnBench) -> Result<KnnBenchReport, BenchError> {
    let matrix = load(&bench.input)?;
    if let Some(path) = &bench.dump {
        write_features(path, &matrix)?;
    }
    let started = Instant::now();
    let (points, _) = standardize(&matrix)?;
    let neighbours = exact_knn(&points, bench.k);
    let knn_seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &bench.output {
        write_neighbours(path, &points, &neighbours)?;
    }
    let check = (bench.check > 0).then(|| check_sample(&points, &neighbours, bench.k, bench.check));
    Ok(KnnBenchReport {
        artists: points.len(),
        features: points.dims(),
        knn_seconds,
        check,
    })
}

/// Compares the engine's lists of `sample` artists spread evenly over the id order with
/// the brute force over all points.
pub fn check_sample(
    points: &Points,
    neighbours: &Neighbours,
    k: usize,
    sample: usize,
) -> BruteForceCheck {
    let n = points.len();
    let sample = sample.min(n);
    let queries: Vec<usize> = (0..sample).map(|i| i * n / sample).collect();
    let expected = brute_force_knn(points, k, &queries);
    let mut check = BruteForceCheck {
        queries: sample,
        different_sets: 0,
        different_lists: 0,
    };
    for (&q, want) in queries.iter().zip(&expected) {
        let got: Vec<(usize, f64)> = neighbours.squared_of(q).collect();
        if got != *want {
            check.different_lists += 1;
        }
        let mut got_ids: Vec<usize> = got.iter().map(|&(j, _)| j).collect();
        let mut want_ids: Vec<usize> = want.iter().map(|&(j, _)| j).collect();
        got_ids.sort_unstable();
        want_ids.sort_unstable();
        if got_ids != want_ids {
            check.different_sets += 1;
        }
    }
    check
}

/// Reads `id,f1,…,fn` rows after a header line.
pub fn read_features(path: &Path) -> Result<FeatureMatrix, BenchError> {
    let csv_error = |source| BenchError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
    let width = reader.headers().map_err(csv_error)?.len().saturating_sub(1);
    let mut ids = Vec::new();
    let mut values = Vec::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        let mut cells = record.iter();
        ids.push(cells.next().unwrap_or_default().to_owned());
        for cell in cells {
            let value = cell
                .trim()
                .parse::<f64>()
                .map_err(|_| BenchError::NotANumber {
                    path: path.to_path_buf(),
                    line: record.position().map_or(0, |p| p.line()),
                    value: cell.to_owned(),
                })?;
            values.push(value);
        }
    }
    Ok(FeatureMatrix::new(ids, width, values)?)
}

/// Writes the rows as `id,f1,…,fn` after a header line, values in shortest round-trip form.
pub fn write_features(path: &Path, matrix: &FeatureMatrix) -> Result<(), BenchError> {
    let mut writer = create(path)?;
    let mut header = csv::StringRecord::from(vec!["id".to_owned()]);
    for column in 1..=matrix.width() {
        header.push_field(&format!("f{column}"));
    }
    let csv_error = |source| BenchError::Csv {
        path: path.to_path_buf(),
        source,
    };
    writer.write_record(&header).map_err(csv_error)?;
    let mut record = csv::StringRecord::new();
    for (i, id) in matrix.ids().iter().enumerate() {
        record.clear();
        record.push_field(id);
        for value in matrix.row(i) {
            record.push_field(&value.to_string());
        }
        writer.write_record(&record).map_err(csv_error)?;
    }
    finish(path, writer)
}

/// Writes `id,rank,neighbor_id,distance` for every artist, rank 1 the nearest.
pub fn write_neighbours(
    path: &Path,
    points: &Points,
    neighbours: &Neighbours,
) -> Result<(), BenchError> {
    let mut writer = create(path)?;
    let csv_error = |source| BenchError::Csv {
        path: path.to_path_buf(),
        source,
    };
    writer
        .write_record(["id", "rank", "neighbor_id", "distance"])
        .map_err(csv_error)?;
    for i in 0..neighbours.len() {
        for (rank, (j, distance)) in neighbours.of(i).enumerate() {
            writer
                .write_record([
                    points.id(i),
                    &(rank + 1).to_string(),
                    points.id(j),
                    &distance.to_string(),
                ])
                .map_err(csv_error)?;
        }
    }
    finish(path, writer)
}

fn create(path: &Path) -> Result<csv::Writer<BufWriter<File>>, BenchError> {
    let file = File::create(path).map_err(|source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(csv::Writer::from_writer(BufWriter::with_capacity(
        1 << 20,
        file,
    )))
}

fn finish(path: &Path, writer: csv::Writer<BufWriter<File>>) -> Result<(), BenchError> {
    let io_error = |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    };
    writer
        .into_inner()
        .map_err(|e| io_error(e.into_error()))?
        .flush()
        .map_err(io_error)
}
