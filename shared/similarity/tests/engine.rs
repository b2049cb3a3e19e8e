//! The engine against the brute force and its edge cases (the clustered sets come from
//! encore-bench's generator).

use encore_bench::{generate, Spread, SyntheticSpec};
use encore_similarity::{
    brute_force_knn, exact_knn, exact_knn_with, relate, standardize, ArtistProfile, FeatureMatrix,
    KnnConfig, Points, Profile, SimilarityError,
};
use proptest::prelude::*;

/// Deterministic pseudo-random values for fixtures.
fn lcg(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("artist-{i:05}")).collect()
}

/// Asserts that every list equals the brute force's, ids and squared distances alike.
fn assert_exact(points: &Points, k: usize, config: KnnConfig) {
    let neighbours = exact_knn_with(points, k, config);
    let queries: Vec<usize> = (0..points.len()).collect();
    let expected = brute_force_knn(points, k, &queries);
    assert_eq!(
        neighbours.len(),
        if neighbours.per_point() == 0 {
            0
        } else {
            points.len()
        }
    );
    for (q, want) in expected.iter().enumerate() {
        let got: Vec<(usize, f64)> = if neighbours.per_point() == 0 {
            Vec::new()
        } else {
            neighbours.squared_of(q).collect()
        };
        assert_eq!(&got, want, "point {q} differs from the brute force");
    }
}

fn standardized(matrix: &FeatureMatrix) -> Points {
    standardize(matrix).expect("fixture is valid").0
}

#[test]
fn uniform_random_points_match_brute_force() {
    let mut next = lcg(1);
    let n = 3000;
    let values = (0..n * 9).map(|_| next()).collect();
    let points = standardized(&FeatureMatrix::new(ids(n), 9, values).unwrap());
    for leaf_size in [1, 7, 32, 64] {
        assert_exact(&points, 10, KnnConfig { leaf_size });
    }
}

#[test]
fn clustered_points_match_brute_force() {
    let matrix = generate(SyntheticSpec {
        artists: 4000,
        clusters: 6,
        seed: 9,
        spread: Spread::Even,
    });
    assert_exact(&standardized(&matrix), 10, KnnConfig::default());
}

#[test]
fn clusters_of_varied_spread_match_brute_force() {
    let matrix = generate(SyntheticSpec::new(4000, 11).with_spread(Spread::Varied));
    assert_exact(&standardized(&matrix), 10, KnnConfig::default());
}

#[test]
fn duplicates_and_equal_distances_are_broken_by_id() {
    // A 3×3×3 grid with ~18 copies of every point: most distances tie.
    let mut next = lcg(5);
    let n = 500;
    let values = (0..n * 3).map(|_| (next() * 3.0).floor()).collect();
    let points = standardized(&FeatureMatrix::new(ids(n), 3, values).unwrap());
    for leaf_size in [2, 32] {
        assert_exact(&points, 10, KnnConfig { leaf_size });
    }
    // Every point has more than 10 duplicates: its list is 10 zero distances, ids ascending.
    let neighbours = exact_knn(&points, 10);
    for i in 0..points.len() {
        let list: Vec<(usize, f64)> = neighbours.of(i).collect();
        assert!(list.iter().all(|&(_, d)| d == 0.0), "point {i}: {list:?}");
        assert!(
            list.windows(2).all(|w| w[0].0 < w[1].0),
            "point {i}: {list:?}"
        );
        assert!(list.iter().all(|&(j, _)| j != i));
    }
}

#[test]
fn widths_beyond_the_compiled_ones_match_brute_force() {
    let mut next = lcg(11);
    let n = 800;
    let values = (0..n * 20).map(|_| next()).collect();
    let points = standardized(&FeatureMatrix::new(ids(n), 20, values).unwrap());
    assert_exact(&points, 5, KnnConfig::default());
}

#[test]
fn results_are_deterministic_and_independent_of_input_order() {
    let matrix = generate(SyntheticSpec::new(2000, 3));
    let first = exact_knn(&standardized(&matrix), 10);
    assert!(
        first == exact_knn(&standardized(&matrix), 10),
        "two runs differ"
    );
    let reversed = FeatureMatrix::from_rows(
        (0..matrix.len())
            .rev()
            .map(|i| (matrix.ids()[i].clone(), matrix.row(i).to_vec())),
    )
    .unwrap();
    assert!(
        first == exact_knn(&standardized(&reversed), 10),
        "reversed input order changed the result"
    );
}

#[test]
fn a_constant_feature_is_dropped_not_divided_by_zero() {
    let rows = vec![
        ("c".to_owned(), vec![1.0, 7.0, 10.0]),
        ("a".to_owned(), vec![2.0, 7.0, 30.0]),
        ("b".to_owned(), vec![4.0, 7.0, 20.0]),
    ];
    let (points, scaling) = standardize(&FeatureMatrix::from_rows(rows).unwrap()).unwrap();
    assert_eq!(scaling.kept, vec![0, 2]);
    assert_eq!(points.dims(), 2);
    assert_eq!(points.ids(), ["a", "b", "c"]);
    // Population standard deviation: column 2 is 10, 20, 30 → mean 20, std sqrt(200/3).
    let std = (200.0f64 / 3.0).sqrt();
    assert!((scaling.stds[1] - std).abs() < 1e-12);
    assert!((points.row(0)[1] - 10.0 / std).abs() < 1e-12);
    assert!(points.values().iter().all(|v| v.is_finite()));
}

#[test]
fn all_constant_features_leave_only_the_id_order() {
    let rows = (0..4).map(|i| (format!("{}", 3 - i), vec![5.0, 5.0]));
    let points = standardized(&FeatureMatrix::from_rows(rows).unwrap());
    assert_eq!(points.dims(), 0);
    let neighbours = exact_knn(&points, 2);
    let list: Vec<(usize, f64)> = neighbours.of(0).collect();
    assert_eq!(list, vec![(1, 0.0), (2, 0.0)]);
}

#[test]
fn k_at_or_beyond_n_minus_one_lists_everyone_else() {
    let mut next = lcg(2);
    let n = 6;
    let points =
        standardized(&FeatureMatrix::new(ids(n), 2, (0..n * 2).map(|_| next()).collect()).unwrap());
    for k in [5, 6, 50] {
        let neighbours = exact_knn(&points, k);
        assert_eq!(neighbours.per_point(), 5);
        for i in 0..n {
            let mut others: Vec<usize> = neighbours.of(i).map(|(j, _)| j).collect();
            others.sort_unstable();
            assert_eq!(others, (0..n).filter(|&j| j != i).collect::<Vec<_>>());
        }
        assert_exact(&points, k, KnnConfig::default());
    }
    assert!(exact_knn(&points, 0).is_empty());
}

#[test]
fn zero_one_and_two_artists() {
    let empty = standardized(&FeatureMatrix::new(Vec::new(), 9, Vec::new()).unwrap());
    assert!(exact_knn(&empty, 10).is_empty());

    let one = standardized(&FeatureMatrix::new(ids(1), 2, vec![1.0, 2.0]).unwrap());
    let neighbours = exact_knn(&one, 10);
    assert_eq!(neighbours.per_point(), 0);
    assert!(neighbours.is_empty());

    let two = standardized(&FeatureMatrix::new(ids(2), 2, vec![0.0, 0.0, 3.0, 4.0]).unwrap());
    let neighbours = exact_knn(&two, 10);
    assert_eq!(
        neighbours.of(0).map(|(j, _)| j).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(
        neighbours.of(1).map(|(j, _)| j).collect::<Vec<_>>(),
        vec![0]
    );
    // z-scores: each column becomes -1, 1 → distance sqrt(2² + 2²).
    let (_, d) = neighbours.of(0).next().unwrap();
    assert!((d - 8.0f64.sqrt()).abs() < 1e-12);
}

#[test]
fn non_finite_values_and_bad_shapes_are_rejected() {
    let nan = FeatureMatrix::new(ids(2), 2, vec![0.0, 1.0, f64::NAN, 2.0]);
    assert_eq!(
        nan,
        Err(SimilarityError::NonFinite {
            id: "artist-00001".into(),
            column: 0
        })
    );
    let inf = FeatureMatrix::new(ids(1), 1, vec![f64::INFINITY]);
    assert!(matches!(inf, Err(SimilarityError::NonFinite { .. })));
    assert!(matches!(
        FeatureMatrix::new(ids(2), 2, vec![0.0; 3]),
        Err(SimilarityError::Shape { .. })
    ));
    let ragged = FeatureMatrix::from_rows(vec![
        ("a".to_owned(), vec![1.0, 2.0]),
        ("b".to_owned(), vec![1.0]),
    ]);
    assert!(matches!(
        ragged,
        Err(SimilarityError::RowWidth { row: 1, .. })
    ));
    let twice = FeatureMatrix::from_rows(vec![
        ("a".to_owned(), vec![1.0]),
        ("a".to_owned(), vec![2.0]),
    ])
    .unwrap();
    assert_eq!(
        standardize(&twice).map(|_| ()),
        Err(SimilarityError::DuplicateId("a".into()))
    );
}

#[test]
fn relate_turns_profiles_into_ranked_rows() {
    let matrix = generate(SyntheticSpec::new(300, 4));
    let profiles: Vec<ArtistProfile> = (0..matrix.len())
        .map(|i| ArtistProfile {
            artist_id: matrix.ids()[i].clone(),
            features: matrix.row(i).try_into().unwrap(),
            track_count: 1 + (i % 10) as u32,
        })
        .collect();
    for profile in [Profile::Plain, Profile::Shrunk { prior_tracks: 2.0 }] {
        let relations = relate(&profiles, 10, profile).unwrap();
        assert_eq!(relations.artists(), 300);
        let rows: Vec<_> = relations.rows().collect();
        assert_eq!(rows.len(), 3000);
        assert_eq!(rows[0].1, 1);
        assert_eq!(rows[9].1, 10);
        assert!(rows.iter().all(|(a, _, b, _)| a != b));
        assert!(rows
            .windows(2)
            .all(|w| w[0].0 != w[1].0 || w[0].3 <= w[1].3));
        let snapshot = relations.to_snapshot("2026-11-25").unwrap();
        assert_eq!(snapshot.len(), 3000);
        assert_eq!(snapshot.label(), "2026-11-25");
        let records = snapshot.to_related_artists();
        assert!(records
            .iter()
            .zip(&rows)
            .all(|(r, row)| r.artist_id == row.0 && r.rank == row.1 && r.related_id == row.2));
    }
    let plain: Vec<_> = relate(&profiles, 10, Profile::Plain)
        .unwrap()
        .rows()
        .map(|(a, r, b, _)| (a.to_owned(), r, b.to_owned()))
        .collect();
    let points = standardize(&matrix).unwrap().0;
    let neighbours = exact_knn(&points, 10);
    assert_eq!(
        plain[..10]
            .iter()
            .map(|row| row.2.clone())
            .collect::<Vec<_>>(),
        neighbours
            .of(0)
            .map(|(j, _)| points.id(j).to_owned())
            .collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn small_random_sets_match_brute_force(
        dims in 1usize..5,
        k in 0usize..9,
        leaf_size in 1usize..9,
        cells in proptest::collection::vec(0u8..4, 0..240),
    ) {
        // Few distinct values, so duplicate points and tied distances are common.
        let n = cells.len() / dims;
        let values: Vec<f64> = cells[..n * dims].iter().map(|&c| f64::from(c)).collect();
        let matrix = FeatureMatrix::new(ids(n), dims, values).unwrap();
        let points = standardized(&matrix);
        assert_exact(&points, k, KnnConfig { leaf_size });
    }
}
