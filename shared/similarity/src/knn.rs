//! Exact k-nearest neighbours: a static kd-tree whose leaves are searched as batches, in
//! tree order, on every core.
//!
//! How: points are stored leaf by leaf in contiguous column-major `f32` blocks (padded to
//! `LANES` points, AVX2 when the processor has it). All queries of one leaf walk the tree
//! together, each node carrying the queries whose own k-th distance its box is within:
//! a node none of them keeps is skipped, and a reached leaf is scanned only for the
//! queries it kept (so one query with a far k-th distance, an artist at the edge of a
//! sparse cluster, does not drag its leaf's dense neighbours along). The scan measures
//! in `f32` (twice the lanes, half the memory of `f64`) only to filter: a candidate whose
//! `f32` distance is within a proven error margin of the query's k-th distance is measured
//! again in `f64`, and only `f64` distances enter the lists.
//!
//! Exactness rests on four rules that the brute force in [`brute_force_knn`] shares:
//! a squared distance is always summed the same way (dimension 0 first, starting from
//! 0.0, each term `(candidate - query)²` in `f64`, no fused multiply-add), candidates are
//! ordered by `(squared distance, index)` with index order being artist-id order, a
//! node or leaf is skipped only when its box bound, summed the same way, is *strictly*
//! greater than the k-th squared distance, and a candidate is dropped on its `f32`
//! distance only when that distance exceeds [`Margin::filter`] of the k-th squared
//! distance, a threshold above which the candidate's `f64` distance is provably greater
//! than the k-th. Rounding is monotone, so a box bound never exceeds the computed distance
//! of any point inside the box: no point that could enter the top-k (including one tied
//! with the k-th at a smaller id) is ever pruned.

use rayon::prelude::*;

use crate::Points;

/// The number of neighbours the datamart stores per artist.
pub const DEFAULT_K: usize = 10;

/// Tuning of the kd-tree; the default is what measured fastest on 9-D clustered data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnnConfig {
    /// Most points per leaf (1 to [`MAX_LEAF_SIZE`]; other values are clamped); a leaf is
    /// scanned as one blocked distance computation.
    pub leaf_size: usize,
}

impl Default for KnnConfig {
    fn default() -> Self {
        Self { leaf_size: 32 }
    }
}

/// The exact top-k of every point: `per_point` neighbours each (`min(k, n - 1)`),
/// nearest first, ties in ascending id order.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbours {
    per_point: usize,
    index: Vec<u32>,
    squared: Vec<f64>,
}

impl Neighbours {
    /// Neighbours listed for every point.
    pub fn per_point(&self) -> usize {
        self.per_point
    }

    /// Number of points that have a list.
    pub fn len(&self) -> usize {
        self.index.len().checked_div(self.per_point).unwrap_or(0)
    }

    /// True when no point has a neighbour.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The neighbours of point `i` as `(point index, Euclidean distance)`, nearest first.
    pub fn of(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let range = i * self.per_point..(i + 1) * self.per_point;
        self.index[range.clone()]
            .iter()
            .zip(&self.squared[range])
            .map(|(&j, &d)| (j as usize, d.sqrt()))
    }

    /// The neighbours of point `i` as `(point index, squared distance)`, nearest first.
    pub fn squared_of(&self, i: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let range = i * self.per_point..(i + 1) * self.per_point;
        self.index[range.clone()]
            .iter()
            .zip(&self.squared[range])
            .map(|(&j, &d)| (j as usize, d))
    }
}

/// Exact top-`k` neighbours of every point, self excluded, with the default tuning.
pub fn exact_knn(points: &Points, k: usize) -> Neighbours {
    exact_knn_with(points, k, KnnConfig::default())
}

/// Exact top-`k` neighbours of every point with an explicit tuning (for benchmarks).
pub fn exact_knn_with(points: &Points, k: usize, config: KnnConfig) -> Neighbours {
    let n = points.len();
    let per_point = k.min(n.saturating_sub(1));
    if per_point == 0 {
        return Neighbours {
            per_point,
            index: Vec::new(),
            squared: Vec::new(),
        };
    }
    let (index, squared) = search_tree(points, per_point, config.leaf_size);
    Neighbours {
        per_point,
        index,
        squared,
    }
}

/// The reference the engine is checked against: for each query point, every other point
/// is measured (same distance formula, same `(distance, id)` order). Quadratic; for tests
/// and sampled checks only. Returns `(point index, squared distance)` lists, nearest first.
pub fn brute_force_knn(points: &Points, k: usize, queries: &[usize]) -> Vec<Vec<(usize, f64)>> {
    let n = points.len();
    let per_point = k.min(n.saturating_sub(1));
    queries
        .par_iter()
        .map(|&q| {
            let query = points.row(q);
            let mut best = TopK::new(per_point);
            for j in (0..n).filter(|&j| j != q) {
                let mut d = 0.0f64;
                for (&x, &qd) in points.row(j).iter().zip(query) {
                    let t = x - qd;
                    d += t * t;
                }
                best.offer(d, j as u32);
            }
            best.dist
                .iter()
                .zip(&best.index)
                .map(|(&d, &j)| (j as usize, d))
                .collect()
        })
        .collect()
}

/// The running top-k of one query, sorted by `(squared distance, index)`.
struct TopK {
    capacity: usize,
    dist: Vec<f64>,
    index: Vec<u32>,
}

impl TopK {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            dist: Vec::with_capacity(capacity),
            index: Vec::with_capacity(capacity),
        }
    }

    fn clear(&mut self) {
        self.dist.clear();
        self.index.clear();
    }

    /// The squared distance a candidate must not exceed to have a chance to enter.
    fn bound(&self) -> f64 {
        if self.dist.len() < self.capacity {
            f64::INFINITY
        } else {
            self.dist[self.capacity - 1]
        }
    }

    fn offer(&mut self, d: f64, id: u32) {
        if self.capacity == 0 {
            return;
        }
        let len = self.dist.len();
        if len == self.capacity {
            let (last_d, last_id) = (self.dist[len - 1], self.index[len - 1]);
            if d > last_d || (d == last_d && id > last_id) {
                return;
            }
            self.dist.pop();
            self.index.pop();
        }
        let mut at = self.dist.len();
        while at > 0
            && (self.dist[at - 1] > d || (self.dist[at - 1] == d && self.index[at - 1] > id))
        {
            at -= 1;
        }
        self.dist.insert(at, d);
        self.index.insert(at, id);
    }
}

const LEAF: u32 = u32::MAX;

/// Points scanned together in the leaf kernel; leaf blocks are padded to a multiple.
const LANES: usize = 8;

/// The error bound of the `f32` filter: how far an `f32` squared distance can be below
/// the `f64` one the brute force computes for the same pair.
///
/// With `A` the largest coordinate magnitude, `u = 2⁻²⁴` and `D` dimensions: rounding a
/// coordinate to `f32` moves it by at most `uA`, and the `f32` difference of two rounded
/// coordinates is off the real difference by at most `η = 4.0001·uA`, so the Euclidean
/// norm of the computed differences is off the real distance `r` by at most `η√D`
/// (triangle inequality). Summing `D` squares in `f32` adds a relative error of at most
/// `γ = (D+1)u / (1-(D+1)u)`, so an `f32` sum `s` gives `r ≥ √(s/(1+γ)) − η√D`; and the
/// `f64` sum is at least `r²(1 − γ₆₄)` with `γ₆₄ = 2(D+3)·2⁻⁵³`. Hence when
/// `s > (1+γ)(√(k/(1−γ₆₄)) + η√D)²` the `f64` distance exceeds `k`.
#[derive(Debug, Clone, Copy)]
struct Margin {
    /// `η√D`: the absolute error of the `f32` distance (not squared).
    offset: f64,
    /// `1 + γ`.
    scale: f64,
    /// `1 / (1 − γ₆₄)`.
    exact: f64,
}

impl Margin {
    fn new(dims: usize, largest: f64) -> Self {
        let u = f64::powi(2.0, -24);
        let d = dims as f64;
        let gamma = (d + 1.0) * u / (1.0 - (d + 1.0) * u);
        let gamma64 = 2.0 * (d + 3.0) * f64::powi(2.0, -53);
        Self {
            offset: 4.0001 * u * largest * d.sqrt(),
            scale: 1.0 + gamma,
            exact: 1.0 / (1.0 - gamma64),
        }
    }

    /// The `f32` threshold for a k-th squared distance `kth`: a candidate whose `f32`
    /// squared distance is above it cannot enter the list. Rounded up, with slack for the
    /// rounding of this computation itself.
    #[inline(always)]
    fn filter(&self, kth: f64) -> f32 {
        if !kth.is_finite() {
            return f32::INFINITY;
        }
        let reach = (kth * self.exact).sqrt() + self.offset;
        let threshold = reach * reach * self.scale * (1.0 + f64::powi(2.0, -40));
        let narrow = threshold as f32;
        if !narrow.is_finite() {
            return f32::INFINITY;
        }
        if f64::from(narrow) < threshold {
            // The next f32 up (narrow is positive and finite).
            f32::from_bits(narrow.to_bits() + 1)
        } else {
            narrow
        }
    }
}

/// The number of coordinates, known at compile time for the common widths so the
/// distance loops unroll, or at run time for any other width.
trait Width: Copy + Send + Sync {
    fn get(self) -> usize;
}

#[derive(Clone, Copy)]
struct Fixed<const D: usize>;

impl<const D: usize> Width for Fixed<D> {
    #[inline(always)]
    fn get(self) -> usize {
        D
    }
}

#[derive(Clone, Copy)]
struct Dynamic(usize);

impl Width for Dynamic {
    #[inline(always)]
    fn get(self) -> usize {
        self.0
    }
}

/// Builds and searches the tree with the width as a compile-time constant where it can.
fn search_tree(points: &Points, per_point: usize, leaf_size: usize) -> (Vec<u32>, Vec<f64>) {
    macro_rules! dispatch {
        ($($d:literal)*) => {
            match points.dims() {
                $($d => KdTree::build(points, leaf_size, Fixed::<$d>).search_all(per_point),)*
                other => KdTree::build(points, leaf_size, Dynamic(other)).search_all(per_point),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

/// A node covers the tree positions `start..end`; leaves have `left == LEAF`.
#[derive(Clone, Copy)]
struct Node {
    start: u32,
    end: u32,
    left: u32,
    right: u32,
    /// Where the leaf's block starts in `KdTree::blocks` (leaves only).
    block: u32,
}

/// A balanced kd-tree (median split on the widest side) whose points are stored in leaf
/// order. Each leaf is one contiguous column-major block, padded to a multiple of
/// [`LANES`] points, so the kernel measures [`LANES`] points per step.
struct KdTree<W: Width> {
    width: W,
    leaf_size: usize,
    /// Tree position → point index.
    perm: Vec<u32>,
    /// Row-major coordinates in tree order (the queries, and the exact re-check).
    rows: Vec<f64>,
    /// The same rows rounded to `f32`, for the filter.
    narrow: Vec<f32>,
    /// Leaf blocks in `f32`: coordinate `d` of a leaf's `j`-th point at
    /// `block + d * padded_len + j`; padding lanes are never read as candidates.
    blocks: Vec<f32>,
    /// The error bound of the `f32` filter over these points.
    margin: Margin,
    nodes: Vec<Node>,
    /// Per node: `width` lower bounds then `width` upper bounds (tight bounding box).
    boxes: Vec<f64>,
}

impl<W: Width> KdTree<W> {
    fn build(points: &Points, leaf_size: usize, width: W) -> Self {
        let n = points.len();
        let mut tree = Self {
            width,
            leaf_size: leaf_size.clamp(1, MAX_LEAF_SIZE),
            perm: (0..n as u32).collect(),
            rows: Vec::with_capacity(width.get() * n),
            narrow: Vec::with_capacity(width.get() * n),
            blocks: Vec::new(),
            margin: Margin::new(width.get(), 0.0),
            nodes: Vec::new(),
            boxes: Vec::new(),
        };
        tree.split(points, 0, n);
        for &point in &tree.perm {
            tree.rows.extend_from_slice(points.row(point as usize));
        }
        tree.narrow = tree.rows.iter().map(|&x| x as f32).collect();
        let largest = tree.rows.iter().fold(0.0f64, |m, &x| m.max(x.abs()));
        let dims = width.get();
        tree.margin = Margin::new(dims, largest);
        for id in 0..tree.nodes.len() {
            let Node {
                start, end, left, ..
            } = tree.nodes[id];
            if left != LEAF {
                continue;
            }
            let (start, end) = (start as usize, end as usize);
            let padded = (end - start).next_multiple_of(LANES);
            tree.nodes[id].block = tree.blocks.len() as u32;
            let base = tree.blocks.len();
            // Padding lanes hold +inf so their distance is +inf and never the minimum.
            tree.blocks.resize(base + dims * padded, f32::INFINITY);
            for (j, pos) in (start..end).enumerate() {
                for d in 0..dims {
                    tree.blocks[base + d * padded + j] = tree.narrow[pos * dims + d];
                }
            }
        }
        tree
    }

    /// Creates the node for positions `start..end` and its subtree; returns its id.
    fn split(&mut self, points: &Points, start: usize, end: usize) -> u32 {
        let id = self.nodes.len();
        self.nodes.push(Node {
            start: start as u32,
            end: end as u32,
            left: LEAF,
            right: LEAF,
            block: 0,
        });
        let dims = self.width.get();
        let mut lo = vec![f64::INFINITY; dims];
        let mut hi = vec![f64::NEG_INFINITY; dims];
        for &point in &self.perm[start..end] {
            for (d, &x) in points.row(point as usize).iter().enumerate() {
                lo[d] = lo[d].min(x);
                hi[d] = hi[d].max(x);
            }
        }
        self.boxes.extend_from_slice(&lo);
        self.boxes.extend_from_slice(&hi);
        if end - start <= self.leaf_size {
            return id as u32;
        }
        let widest = (0..dims).max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])));
        let mid = start + (end - start) / 2;
        if let Some(dim) = widest {
            self.perm[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
                points.row(a as usize)[dim]
                    .total_cmp(&points.row(b as usize)[dim])
                    .then(a.cmp(&b))
            });
        }
        let left = self.split(points, start, mid);
        let right = self.split(points, mid, end);
        self.nodes[id].left = left;
        self.nodes[id].right = right;
        id as u32
    }

    /// Squared distance from `query` to the box of `node`, summed like a point distance.
    #[inline(always)]
    fn box_distance(&self, node: u32, query: &[f64]) -> f64 {
        let dims = self.width.get();
        let base = node as usize * 2 * dims;
        let lo = &self.boxes[base..base + dims];
        let hi = &self.boxes[base + dims..base + 2 * dims];
        let query = &query[..dims];
        let mut sum = 0.0f64;
        for d in 0..dims {
            // Exactly `l - q` below the box, `q - h` above it, 0 inside; branch-free.
            let t = (lo[d] - query[d]).max(0.0) + (query[d] - hi[d]).max(0.0);
            sum += t * t;
        }
        sum
    }

    /// `f32` squared distances from `query` to every point of a leaf, [`LANES`] points per
    /// step (the filter; never a final distance); returns the smallest.
    #[inline(always)]
    fn scan_leaf(&self, node: &Node, query: &[f32], out: &mut [f32]) -> f32 {
        let dims = self.width.get();
        let padded = (node.end - node.start).next_multiple_of(LANES as u32) as usize;
        let block = &self.blocks[node.block as usize..node.block as usize + dims * padded];
        let query = &query[..dims];
        let mut nearest = [f32::INFINITY; LANES];
        for (step, out) in out[..padded].chunks_exact_mut(LANES).enumerate() {
            let mut sum = [0.0f32; LANES];
            for (d, &q) in query.iter().enumerate() {
                let column = &block[d * padded + step * LANES..d * padded + (step + 1) * LANES];
                for (s, &x) in sum.iter_mut().zip(column) {
                    let t = x - q;
                    *s += t * t;
                }
            }
            out.copy_from_slice(&sum);
            for (m, &s) in nearest.iter_mut().zip(&sum) {
                *m = m.min(s);
            }
        }
        nearest.iter().fold(f32::INFINITY, |m, &s| m.min(s))
    }

    /// The exact squared distance between tree positions `a` (candidate) and `b` (query),
    /// summed like the brute force.
    #[inline(always)]
    fn distance(&self, a: usize, b: usize) -> f64 {
        let dims = self.width.get();
        let candidate = &self.rows[a * dims..(a + 1) * dims];
        let query = &self.rows[b * dims..(b + 1) * dims];
        let mut sum = 0.0f64;
        for d in 0..dims {
            let t = candidate[d] - query[d];
            sum += t * t;
        }
        sum
    }

    /// Squared distance between the boxes of `a` and `b`: a lower bound, summed like a
    /// point distance, of the distance between any point of one and any point of the other.
    #[inline(always)]
    fn box_gap(&self, a: u32, b: u32) -> f64 {
        let dims = self.width.get();
        let (a, b) = (a as usize * 2 * dims, b as usize * 2 * dims);
        let (a_lo, a_hi) = (
            &self.boxes[a..a + dims],
            &self.boxes[a + dims..a + 2 * dims],
        );
        let (b_lo, b_hi) = (
            &self.boxes[b..b + dims],
            &self.boxes[b + dims..b + 2 * dims],
        );
        let mut sum = 0.0f64;
        for d in 0..dims {
            let t = (b_lo[d] - a_hi[d]).max(0.0) + (a_lo[d] - b_hi[d]).max(0.0);
            sum += t * t;
        }
        sum
    }

    /// Searches every leaf's points together, leaves in parallel. Returns per point index
    /// its list, as `(index, squared)` flattened in point-index order.
    fn search_all(self, per_point: usize) -> (Vec<u32>, Vec<f64>) {
        let n = self.perm.len();
        let leaves: Vec<u32> = (0..self.nodes.len() as u32)
            .filter(|&id| self.nodes[id as usize].left == LEAF)
            .collect();
        let found: Vec<(Vec<u32>, Vec<f64>)> = leaves
            .par_iter()
            .map_init(
                || Scratch::new(self.leaf_size, per_point),
                |scratch, &leaf| self.search_leaf_fastest(leaf, scratch),
            )
            .collect();
        let mut index = vec![0u32; n * per_point];
        let mut squared = vec![0.0f64; n * per_point];
        for (&leaf, (leaf_index, leaf_squared)) in leaves.iter().zip(&found) {
            let start = self.nodes[leaf as usize].start as usize;
            for (offset, (lists, dists)) in leaf_index
                .chunks_exact(per_point)
                .zip(leaf_squared.chunks_exact(per_point))
                .enumerate()
            {
                let point = self.perm[start + offset] as usize;
                index[point * per_point..(point + 1) * per_point].copy_from_slice(lists);
                squared[point * per_point..(point + 1) * per_point].copy_from_slice(dists);
            }
        }
        (index, squared)
    }

    /// [`Self::search_leaf`] compiled for AVX2 when the processor has it (wider vectors;
    /// no FMA, so every sum is rounded exactly as in the portable build).
    fn search_leaf_fastest(&self, leaf: u32, scratch: &mut Scratch) -> (Vec<u32>, Vec<f64>) {
        #[cfg(target_arch = "x86_64")]
        {
            /// # Safety
            /// Only call on a processor with AVX2.
            #[target_feature(enable = "avx2")]
            unsafe fn search_leaf_avx2<W: Width>(
                tree: &KdTree<W>,
                leaf: u32,
                scratch: &mut Scratch,
            ) -> (Vec<u32>, Vec<f64>) {
                tree.search_leaf(leaf, scratch)
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor was just checked to support AVX2.
                return unsafe { search_leaf_avx2(self, leaf, scratch) };
            }
        }
        self.search_leaf(leaf, scratch)
    }

    /// The top-k of every point of one leaf. The leaf's queries walk the tree together,
    /// each node carrying the set of queries still interested in it: a child keeps a query
    /// only while its box is within that query's current k-th distance, a node no query
    /// keeps is skipped, and a reached leaf is scanned for the queries it kept (checked
    /// once more against their k-th distances, which may have shrunk since). Children are
    /// visited nearest to the query leaf's box first, the one holding the query leaf first
    /// when both touch it, so the lists fill from the queries' own neighbourhood.
    #[inline(always)]
    fn search_leaf(&self, leaf: u32, scratch: &mut Scratch) -> (Vec<u32>, Vec<f64>) {
        let Scratch {
            stack,
            acc,
            tops,
            bounds,
        } = scratch;
        let dims = self.width.get();
        let leaf_start = self.nodes[leaf as usize].start;
        let queries = leaf_start as usize..self.nodes[leaf as usize].end as usize;
        let tops = &mut tops[..queries.len()];
        tops.iter_mut().for_each(TopK::clear);
        let bounds = &mut bounds[..queries.len()];
        bounds.fill(f64::INFINITY);
        let everyone: Mask = Mask::MAX >> (Mask::BITS as usize - queries.len());
        let row = |q: usize| {
            let pos = queries.start + q;
            &self.rows[pos * dims..(pos + 1) * dims]
        };
        let mut bound = f64::INFINITY;
        stack.clear();
        stack.push((0.0, 0, everyone));
        while let Some((reach, id, mask)) = stack.pop() {
            if reach > bound {
                continue;
            }
            let node = &self.nodes[id as usize];
            if node.left != LEAF {
                let (mut to_left, mut to_right) = (0, 0);
                for q in Bits(mask) {
                    let query = row(q);
                    let own = bounds[q];
                    if self.box_distance(node.left, query) <= own {
                        to_left |= 1 << q;
                    }
                    if self.box_distance(node.right, query) <= own {
                        to_right |= 1 << q;
                    }
                }
                let left = (self.box_gap(leaf, node.left), node.left, to_left);
                let right = (self.box_gap(leaf, node.right), node.right, to_right);
                let holds_leaf = |child: u32| {
                    let child = &self.nodes[child as usize];
                    (child.start..child.end).contains(&leaf_start)
                };
                let left_first = left.0 < right.0 || (left.0 == right.0 && !holds_leaf(node.right));
                let (near, far) = if left_first {
                    (left, right)
                } else {
                    (right, left)
                };
                for (reach, child, kept) in [far, near] {
                    if kept != 0 && reach <= bound {
                        stack.push((reach, child, kept));
                    }
                }
                continue;
            }
            let reference = node.start as usize;
            let len = (node.end - node.start) as usize;
            for q in Bits(mask) {
                let pos = queries.start + q;
                let query = row(q);
                let best = &mut tops[q];
                let mut own = bounds[q];
                if self.box_distance(id, query) > own {
                    continue;
                }
                let mut filter = self.margin.filter(own);
                let narrow = &self.narrow[pos * dims..(pos + 1) * dims];
                if self.scan_leaf(node, narrow, acc) > filter {
                    continue;
                }
                for (offset, &rough) in acc[..len].iter().enumerate() {
                    let candidate = reference + offset;
                    if rough > filter || candidate == pos {
                        continue;
                    }
                    let d = self.distance(candidate, pos);
                    if d > own {
                        continue;
                    }
                    best.offer(d, self.perm[candidate]);
                    own = best.bound();
                    filter = self.margin.filter(own);
                }
                bounds[q] = own;
            }
            bound = bounds.iter().copied().fold(0.0, f64::max);
        }
        let mut index = Vec::new();
        let mut squared = Vec::new();
        for best in tops.iter() {
            index.extend_from_slice(&best.index);
            squared.extend_from_slice(&best.dist);
        }
        (index, squared)
    }
}

/// A set of a leaf's queries, bit `q` for its `q`-th point; a leaf holds at most
/// [`MAX_LEAF_SIZE`] points so that every set fits.
type Mask = u64;

/// The largest leaf the search supports (one bit per query in a [`Mask`]).
pub const MAX_LEAF_SIZE: usize = Mask::BITS as usize;

/// The queries of a [`Mask`], lowest first.
struct Bits(Mask);

impl Iterator for Bits {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let q = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(q)
    }
}

/// Per-thread buffers reused across queries.
struct Scratch {
    /// Nodes still to visit: the box gap to the query leaf, the node, the queries kept.
    stack: Vec<(f64, u32, Mask)>,
    acc: Vec<f32>,
    tops: Vec<TopK>,
    /// Each query's current k-th squared distance.
    bounds: Vec<f64>,
}

impl Scratch {
    fn new(leaf_size: usize, per_point: usize) -> Self {
        Self {
            stack: Vec::with_capacity(64),
            acc: vec![0.0; leaf_size.next_multiple_of(LANES)],
            tops: (0..leaf_size).map(|_| TopK::new(per_point)).collect(),
            bounds: vec![f64::INFINITY; leaf_size],
        }
    }
}
