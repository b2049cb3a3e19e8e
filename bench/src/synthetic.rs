//! Synthetic artists for benchmarks: clustered 9-feature profiles, reproducible from a seed,
//! in two shapes: clusters of similar spread ([`Spread::Even`]) and clusters that differ
//! widely in spread and size ([`Spread::Varied`]), as real audio features do (a tight
//! cluster of near-identical ambient artists beside a broad pop one).

use encore_domain::FEATURE_NAMES;

use encore_similarity::FeatureMatrix;

/// What to generate: `artists` profiles around `clusters` genre-like centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Number of artists (rows).
    pub artists: usize,
    /// Number of clusters the artists are drawn around.
    pub clusters: usize,
    /// Seed of the pseudo-random generator: same spec, same data.
    pub seed: u64,
    /// How the clusters' spreads (and sizes) differ.
    pub spread: Spread,
}

/// How much the clusters of a synthetic set differ from one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spread {
    /// Every cluster of the same expected size, each feature's spread 0.15–0.45.
    #[default]
    Even,
    /// Cluster sizes 1:20 apart and overall spreads 0.03–1.0 (log-uniform), each
    /// feature's spread within a cluster a further 0.5–1.5 of that.
    Varied,
}

impl SyntheticSpec {
    /// `artists` rows in the default 40 clusters.
    pub fn new(artists: usize, seed: u64) -> Self {
        Self {
            artists,
            clusters: 40,
            seed,
            spread: Spread::Even,
        }
    }

    /// The same spec with clusters of the given [`Spread`].
    pub fn with_spread(self, spread: Spread) -> Self {
        Self { spread, ..self }
    }
}

/// Typical centre and spread of each of [`FEATURE_NAMES`] at the artist level, so the
/// generated values look like real audio features (0–1 ratios, dB, BPM).
const FEATURE_SCALE: [(f64, f64); 9] = [
    (0.65, 0.14),
    (0.70, 0.17),
    (-6.7, 2.9),
    (0.10, 0.10),
    (0.17, 0.21),
    (0.08, 0.22),
    (0.19, 0.13),
    (0.51, 0.23),
    (121.0, 27.0),
];

/// Generates the artists: each cluster has a centre drawn from a standard normal per
/// feature and its own spread per feature (see [`Spread`]); each artist is its cluster's
/// centre plus Gaussian noise, mapped to the feature's scale and rounded to 4 decimals
/// as Spotify reports them. Ids are `a` + the row number zero-padded, so id order is row
/// order.
pub fn generate(spec: SyntheticSpec) -> FeatureMatrix {
    let width = FEATURE_NAMES.len();
    let mut rng = SplitMix64(spec.seed);
    let clusters = spec.clusters.max(1);
    let mut centres: Vec<(f64, f64)> = Vec::with_capacity(clusters * width);
    // Cumulative cluster weights: a cluster is picked by a uniform draw against them.
    let mut weights: Vec<f64> = Vec::with_capacity(clusters);
    for _ in 0..clusters {
        let (overall, weight) = match spec.spread {
            Spread::Even => (1.0, 1.0),
            Spread::Varied => (
                0.03 * (1.0f64 / 0.03).powf(rng.uniform()),
                1.0 + 19.0 * rng.uniform(),
            ),
        };
        for _ in 0..width {
            let centre = rng.normal();
            let within = match spec.spread {
                Spread::Even => 0.15 + 0.3 * rng.uniform(),
                Spread::Varied => overall * (0.5 + rng.uniform()),
            };
            centres.push((centre, within));
        }
        weights.push(weights.last().copied().unwrap_or(0.0) + weight);
    }
    let total_weight = weights.last().copied().unwrap_or(1.0);
    let digits = spec.artists.max(1).to_string().len();
    let mut ids = Vec::with_capacity(spec.artists);
    let mut values = Vec::with_capacity(spec.artists * width);
    for row in 0..spec.artists {
        let cluster = match spec.spread {
            Spread::Even => (rng.next() % clusters as u64) as usize,
            Spread::Varied => {
                let draw = rng.uniform() * total_weight;
                weights.partition_point(|&w| w <= draw).min(clusters - 1)
            }
        };
        for (feature, &(mean, spread)) in FEATURE_SCALE.iter().enumerate() {
            let (centre, within) = centres[cluster * width + feature];
            let z = centre + within * rng.normal();
            values.push(((mean + spread * z) * 1e4).round() / 1e4);
        }
        ids.push(format!("a{row:0digits$}"));
    }
    FeatureMatrix::new(ids, width, values)
        .unwrap_or_else(|_| unreachable!("finite and rectangular by construction"))
}

/// SplitMix64: tiny, fast and good enough for synthetic data; no dependency needed.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}
