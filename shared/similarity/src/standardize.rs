//! Z-score standardization across artists.

use crate::{FeatureMatrix, Points, SimilarityError};

/// How each kept column was scaled: `z = (x - mean) / std`, with the population standard
/// deviation (divide by n, as scikit-learn's `StandardScaler`). Constant columns are dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Input column index of each kept feature, ascending.
    pub kept: Vec<usize>,
    /// Mean of each kept column.
    pub means: Vec<f64>,
    /// Population standard deviation of each kept column (always > 0).
    pub stds: Vec<f64>,
}

/// Standardizes every column across artists and returns the points (sorted by id) with
/// the scaling used. A column whose values are all equal carries no information and would
/// divide by zero, so it is dropped.
pub fn standardize(matrix: &FeatureMatrix) -> Result<(Points, Scaling), SimilarityError> {
    // Sorting by id first makes every sum run in the same order whatever the input order,
    // so the same artists always give bit-identical points.
    let raw = Points::new(
        matrix.ids().to_vec(),
        matrix.width(),
        matrix.values().to_vec(),
    )?;
    let n = raw.len();
    let mut scaling = Scaling {
        kept: Vec::new(),
        means: Vec::new(),
        stds: Vec::new(),
    };
    for column in 0..raw.dims() {
        let values = (0..n).map(|i| raw.row(i)[column]);
        let (min, max) = values
            .clone()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if n == 0 || min == max {
            continue;
        }
        let mean = values.clone().sum::<f64>() / n as f64;
        let variance = values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
        if variance == 0.0 {
            // Distinct values so close that their spread underflows: constant in practice.
            continue;
        }
        scaling.kept.push(column);
        scaling.means.push(mean);
        scaling.stds.push(variance.sqrt());
    }
    let dims = scaling.kept.len();
    let mut values = Vec::with_capacity(n * dims);
    for i in 0..n {
        let row = raw.row(i);
        for (j, &column) in scaling.kept.iter().enumerate() {
            values.push((row[column] - scaling.means[j]) / scaling.stds[j]);
        }
    }
    let points = Points::new(raw.ids().to_vec(), dims, values)?;
    Ok((points, scaling))
}
