//! Dense feature matrices: the raw input rows and the points the engine searches.

use crate::SimilarityError;

/// Raw per-artist feature rows as they come from the lake or a CSV file: one id and
/// `width` values per artist, row-major. Any number of columns; no labels, only numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    pub(crate) ids: Vec<String>,
    pub(crate) width: usize,
    pub(crate) values: Vec<f64>,
}

impl FeatureMatrix {
    /// Wraps a row-major buffer of `ids.len() × width` values, rejecting a wrong shape
    /// and any NaN or infinite value (the error names the artist and column).
    pub fn new(ids: Vec<String>, width: usize, values: Vec<f64>) -> Result<Self, SimilarityError> {
        if ids.len().checked_mul(width) != Some(values.len()) {
            return Err(SimilarityError::Shape {
                ids: ids.len(),
                width,
                values: values.len(),
            });
        }
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(SimilarityError::NonFinite {
                id: ids[at / width].clone(),
                column: at % width,
            });
        }
        Ok(Self { ids, width, values })
    }

    /// Builds the matrix from `(id, row)` pairs; every row must be as wide as the first.
    pub fn from_rows<I>(rows: I) -> Result<Self, SimilarityError>
    where
        I: IntoIterator<Item = (String, Vec<f64>)>,
    {
        let mut ids = Vec::new();
        let mut values = Vec::new();
        let mut width = None;
        for (row, (id, features)) in rows.into_iter().enumerate() {
            let expected = *width.get_or_insert(features.len());
            if features.len() != expected {
                return Err(SimilarityError::RowWidth {
                    row,
                    id,
                    found: features.len(),
                    expected,
                });
            }
            ids.push(id);
            values.extend_from_slice(&features);
        }
        Self::new(ids, width.unwrap_or(0), values)
    }

    /// Number of artists.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there is no artist.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of feature columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The artist ids, in input order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The features of the `i`-th artist.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    /// The row-major value buffer.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// Points in a Euclidean space, sorted by artist id, so a point's index order is its id
/// order and breaking distance ties by index breaks them by id. Coordinates are `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    ids: Vec<String>,
    dims: usize,
    values: Vec<f64>,
}

impl Points {
    /// Sorts the rows by id (byte order) and checks them: right shape, finite values,
    /// no id twice, at most `u32::MAX` points.
    pub fn new(ids: Vec<String>, dims: usize, values: Vec<f64>) -> Result<Self, SimilarityError> {
        let matrix = FeatureMatrix::new(ids, dims, values)?;
        if matrix.len() >= u32::MAX as usize {
            return Err(SimilarityError::TooMany(matrix.len()));
        }
        let mut order: Vec<usize> = (0..matrix.len()).collect();
        order.sort_unstable_by(|&a, &b| matrix.ids[a].cmp(&matrix.ids[b]));
        if let Some(pair) = order
            .windows(2)
            .find(|pair| matrix.ids[pair[0]] == matrix.ids[pair[1]])
        {
            return Err(SimilarityError::DuplicateId(matrix.ids[pair[0]].clone()));
        }
        let mut values = Vec::with_capacity(matrix.values.len());
        for &i in &order {
            values.extend_from_slice(matrix.row(i));
        }
        let FeatureMatrix { mut ids, .. } = matrix;
        let mut sorted_ids = Vec::with_capacity(ids.len());
        for &i in &order {
            sorted_ids.push(std::mem::take(&mut ids[i]));
        }
        Ok(Self {
            ids: sorted_ids,
            dims,
            values,
        })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there is no point.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of coordinates per point.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The ids, ascending.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The id of the `i`-th point.
    pub fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }

    /// The coordinates of the `i`-th point.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.dims..(i + 1) * self.dims]
    }

    /// The row-major coordinate buffer.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}
