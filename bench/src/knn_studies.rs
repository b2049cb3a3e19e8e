//! Studies of the k-NN engine beside `encore bench knn`'s timing: leaf-size sweeps, the
//! engine beside a straightforward kiddo kd-tree on the same points in the same run, and
//! how many neighbour sets f32 storage would change.

use std::time::Instant;

use encore_similarity::{
    brute_force_knn, exact_knn, exact_knn_with, standardize, FeatureMatrix, KnnConfig, Points,
};
use rayon::prelude::*;

/// Times the engine at several leaf sizes on the same standardized points.
pub(crate) fn leaf_sizes(
    matrix: &FeatureMatrix,
    k: usize,
    leaf_sizes: &[usize],
) -> anyhow::Result<()> {
    let (points, _) = standardize(matrix)?;
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
pub(crate) fn against_kiddo(matrix: &FeatureMatrix, k: usize) -> anyhow::Result<()> {
    let (points, _) = standardize(matrix)?;
    anyhow::ensure!(
        points.dims() == KIDDO_DIMS,
        "--kiddo needs {KIDDO_DIMS} features after standardization, found {}",
        points.dims()
    );
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
pub(crate) fn f32_check(matrix: &FeatureMatrix, k: usize, sample: usize) -> anyhow::Result<()> {
    let (points, _) = standardize(matrix)?;
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
