//! Joint ranking of many values and their Blom normal scores, the rank normalisation of
//! Vehtari et al. (2021), with scratch space reused from one quantity to the next.

use std::sync::Arc;

use super::autocov::inverse_normal_cdf;
use super::{interpolate_type7, type7_position};

/// Blom's fractional offset `c` in `(r − c) / (S − 2c + 1)`.
const BLOM_OFFSET: f64 = 3.0 / 8.0;

/// Sorting and rank normalisation with reusable scratch space.
///
/// Values that are all `f32`s (a run's draws are), fewer than 2³² of them, are sorted as
/// one `u64` each, the value's order key above its index, by a radix sort of the keys: half
/// the memory of a key and an index apart, and a few sequential passes in place of a
/// comparison sort. Other values are sorted as `(key, index)` pairs. Ties get the same score
/// whichever order they are sorted in, so both give the same scores.
#[derive(Default)]
pub(super) struct Ranker {
    /// `order_key32(value) << 32 | index`, ascending, when the values are packed.
    packed: Vec<u64>,
    /// The radix sort's second buffer, then the folded values' order.
    scratch: Vec<u64>,
    /// `(order_key(value), index)` in ascending order of value, when they are not.
    wide: Vec<(u64, usize)>,
    /// The normal scores of the last size ranked, shared by the threads of a summary.
    scores: Arc<NormalScores>,
}

/// One sorted value with its index.
trait Ranked: Copy {
    /// A key that orders the values, equal for equal values (`-0.0` and `0.0` too).
    fn key(self) -> u64;
    /// The value (`0.0` for `-0.0`).
    fn value(self) -> f64;
    /// The value's index in the ranked slice.
    fn index(self) -> usize;
}

impl Ranked for (u64, usize) {
    fn key(self) -> u64 {
        self.0
    }
    fn value(self) -> f64 {
        key_value(self.0)
    }
    fn index(self) -> usize {
        self.1
    }
}

impl Ranked for u64 {
    fn key(self) -> u64 {
        self >> 32
    }
    fn value(self) -> f64 {
        f64::from(key32_value((self >> 32) as u32))
    }
    fn index(self) -> usize {
        (self & u64::from(u32::MAX)) as usize
    }
}

impl Ranker {
    /// A ranker with the scores of `size` values tabulated (on every core).
    pub(super) fn for_size(size: usize) -> Ranker {
        Ranker {
            scores: Arc::new(NormalScores::tabulate(size)),
            ..Ranker::default()
        }
    }

    /// An empty ranker sharing this one's table of scores.
    pub(super) fn sharing(&self) -> Ranker {
        Ranker {
            scores: Arc::clone(&self.scores),
            ..Ranker::default()
        }
    }

    /// Sorts the values of `x` (no NaN).
    pub(super) fn sort(&mut self, x: &[f64]) {
        self.packed.clear();
        self.wide.clear();
        if x.len() <= 1 << 32 && self.try_pack(x) {
            radix_sort_by_key(&mut self.packed, &mut self.scratch);
        } else {
            // `try_pack` stopped part way: `wide` alone says how the values are sorted.
            self.packed.clear();
            self.wide
                .extend(x.iter().enumerate().map(|(i, &v)| (order_key(v), i)));
            self.wide.sort_unstable_by_key(|&(key, _)| key);
        }
        if self.scores.table.len() != x.len() {
            self.scores = Arc::new(NormalScores::tabulate(x.len()));
        }
    }

    /// Packs `x` into `self.packed`; `false` at the first value that is not an `f32`.
    fn try_pack(&mut self, x: &[f64]) -> bool {
        self.packed.reserve(x.len());
        for (i, &v) in x.iter().enumerate() {
            let single = v as f32;
            if f64::from(single) != v {
                return false;
            }
            self.packed
                .push(u64::from(order_key32(single)) << 32 | i as u64);
        }
        true
    }

    /// Median of the sorted values (mean of the two middle ones when their number
    /// is even).
    pub(super) fn median(&self) -> f64 {
        if self.wide.is_empty() {
            median(&self.packed)
        } else {
            median(&self.wide)
        }
    }

    /// The type-7 `p` quantile of the sorted values (at least 2).
    pub(super) fn quantile(&self, p: f64) -> f64 {
        if self.wide.is_empty() {
            quantile(&self.packed, p)
        } else {
            quantile(&self.wide, p)
        }
    }

    /// Writes `Φ⁻¹((r − 3/8) / (S − 3/4 + 1))` into `out[i]` for the average rank
    /// `r` of value `i` among the `S` sorted values.
    pub(super) fn normal_scores(&mut self, out: &mut [f64]) {
        let Ranker {
            packed,
            wide,
            scores,
            ..
        } = self;
        if wide.is_empty() {
            sorted_normal_scores(packed, scores, out);
        } else {
            sorted_normal_scores(wide, scores, out);
        }
    }

    /// [`Ranker::normal_scores`] of the folded values `|x − median|` of the sorted
    /// values `x`, without sorting them (see [`folded_order`]). Returns `false`, leaving
    /// `out` as it was, if a folded value is NaN (`∞ − ∞`).
    pub(super) fn folded_normal_scores(&mut self, median: f64, out: &mut [f64]) -> bool {
        let Ranker {
            packed,
            scratch,
            wide,
            scores,
        } = self;
        let finite = if wide.is_empty() {
            folded_order(packed, median, scratch)
        } else {
            folded_order(wide, median, scratch)
        };
        if finite {
            let order = &scratch[..];
            scatter_scores(
                order.len(),
                |p| order[p] & TIED != 0,
                |p| (order[p] & !TIED) as usize,
                scores,
                out,
            );
        }
        finite
    }
}

/// Sorts packed entries by their upper 32 bits (the values' order keys), stably, with
/// `scratch` as the second buffer: a least-significant-digit radix sort over the key's four
/// bytes (Knuth, TAOCP vol. 3, §5.2.5), which skips a byte every entry shares (the sign and
/// exponent byte of values of one sign and scale, say). The entries come in index order, so
/// tied values end in index order.
fn radix_sort_by_key(entries: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    const DIGITS: usize = 4;
    let digit = |entry: u64, d: usize| ((entry >> (32 + 8 * d)) & 0xff) as usize;
    let mut counts = [[0usize; 256]; DIGITS];
    for &entry in entries.iter() {
        for (d, count) in counts.iter_mut().enumerate() {
            count[digit(entry, d)] += 1;
        }
    }
    // Every pass writes each entry of the buffer before it is read, so a buffer of the right
    // length from the last quantity needs no clearing.
    if scratch.len() != entries.len() {
        scratch.clear();
        scratch.resize(entries.len(), 0);
    }
    for (d, count) in counts.iter().enumerate() {
        if count.contains(&entries.len()) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut total = 0;
        for (start, &n) in next.iter_mut().zip(count) {
            *start = total;
            total += n;
        }
        for &entry in entries.iter() {
            let slot = &mut next[digit(entry, d)];
            scratch[*slot] = entry;
            *slot += 1;
        }
        std::mem::swap(entries, scratch);
    }
}

/// The type-7 `p` quantile of the ascending `sorted` (at least 2 values).
fn quantile(sorted: &[impl Ranked], p: f64) -> f64 {
    let (k, gamma) = type7_position(sorted.len(), p);
    interpolate_type7(sorted[k - 1].value(), sorted[k].value(), gamma)
}

/// Median of the ascending `sorted` (mean of the two middle ones when their number is even).
fn median(sorted: &[impl Ranked]) -> f64 {
    let size = sorted.len();
    let middle = sorted[size / 2].value();
    if size % 2 == 1 {
        middle
    } else {
        (sorted[size / 2 - 1].value() + middle) / 2.0
    }
}

/// Writes the normal score of each value of the ascending `sorted` into `out` at its index.
fn sorted_normal_scores<E: Ranked>(sorted: &[E], scores: &NormalScores, out: &mut [f64]) {
    scatter_scores(
        sorted.len(),
        |p| sorted[p].key() == sorted[p - 1].key(),
        |p| sorted[p].index(),
        scores,
        out,
    );
}

/// Writes the normal scores of `count` values ranked in order `0 … count − 1` into `out`, at
/// `index(p)` for the value of rank `p + 1`; `tied_to_previous(p)` (`p ≥ 1`) says that it
/// equals the value before it. Ties share the score of their average rank. Reading the ranks
/// in order and writing each score once keeps the writes, which land all over `out`,
/// independent of one another.
fn scatter_scores(
    count: usize,
    tied_to_previous: impl Fn(usize) -> bool,
    index: impl Fn(usize) -> usize,
    scores: &NormalScores,
    out: &mut [f64],
) {
    let mut start = 0;
    while start < count {
        let mut end = start + 1;
        while end < count && tied_to_previous(end) {
            end += 1;
        }
        let z = scores.of_ranks(start, end - start);
        for p in start..end {
            out[index(p)] = z;
        }
        start = end;
    }
}

/// The flag of [`folded_order`]'s entries that marks a value equal to the one before it.
const TIED: u64 = 1 << 63;

/// The order of the folded values `|x − median|` of the ascending `sorted`, into `order`: the
/// index of each, ascending, with [`TIED`] set where it equals the one before. The values below
/// the median, walked downwards, and those from the median up, walked upwards, are each
/// non-decreasing once folded (rounding `x − m` is monotone in `x`), so one merge ranks them.
/// Returns `false` if a folded value is NaN (`∞ − ∞`).
fn folded_order<E: Ranked>(sorted: &[E], median: f64, order: &mut Vec<u64>) -> bool {
    let fold = |entry: E| (entry.value() - median).abs();
    let split = sorted.partition_point(|entry| entry.value() < median);
    let (below, above) = sorted.split_at(split);
    order.clear();
    order.reserve(sorted.len());
    let mut previous = None;
    // The next of each side: below[b − 1] going down, above[a] going up.
    let (mut b, mut a) = (below.len(), 0);
    while b > 0 || a < above.len() {
        let take_below = b > 0 && (a == above.len() || fold(below[b - 1]) <= fold(above[a]));
        let entry = if take_below {
            b -= 1;
            below[b]
        } else {
            a += 1;
            above[a - 1]
        };
        let folded = fold(entry);
        if folded.is_nan() {
            return false;
        }
        let key = order_key(folded);
        let tied = if previous == Some(key) { TIED } else { 0 };
        order.push(entry.index() as u64 | tied);
        previous = Some(key);
    }
    true
}

/// Blom's normal scores `Φ⁻¹((r − 3/8) / (S − 3/4 + 1))` of `S` ranked values, tabulated for
/// the integer ranks `r = 1 … S`: a quantity's bulk and folded values share them, and so do
/// the dimensions of a run, so each is computed once.
#[derive(Default)]
struct NormalScores {
    /// `table[r − 1]`: the score of rank `r` of `S = table.len()` values.
    table: Vec<f64>,
}

impl NormalScores {
    /// The scores of `size` ranks, computed on every core for a large table (each score is
    /// the same whichever thread computes it).
    fn tabulate(size: usize) -> NormalScores {
        const SERIAL: usize = 1 << 16;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut table = vec![0.0; size];
        let part = size.div_ceil(threads).max(SERIAL);
        std::thread::scope(|scope| {
            for (p, chunk) in table.chunks_mut(part).enumerate() {
                scope.spawn(move || {
                    for (offset, score_of) in chunk.iter_mut().enumerate() {
                        *score_of = score(size, p * part + offset, 1);
                    }
                });
            }
        });
        NormalScores { table }
    }

    /// The score shared by the `count` (tied) values of ranks `start + 1 ..= start + count`.
    /// An odd count's average rank, `start + (count + 1)/2`, is an integer, and the table holds
    /// its score by the same expression; an even count's is not.
    fn of_ranks(&self, start: usize, count: usize) -> f64 {
        if count % 2 == 1 {
            self.table[start + count / 2]
        } else {
            score(self.table.len(), start, count)
        }
    }
}

/// The score of ranks `start + 1 ..= start + count` of `size` values, at their average rank.
/// One expression for tabulated and tied ranks, so an untied value's score does not depend
/// on the path that gave it.
fn score(size: usize, start: usize, count: usize) -> f64 {
    let denominator = (size as f64 - 2.0 * BLOM_OFFSET) + 1.0;
    let rank = (start + 1 + start + count) as f64 * 0.5;
    inverse_normal_cdf((rank - BLOM_OFFSET) / denominator)
}

/// Order-preserving map of a non-NaN `f64` to `u64`, with `-0.0` and `0.0` equal.
fn order_key(v: f64) -> u64 {
    ordered_bits((v + 0.0).to_bits(), 64)
}

/// Inverse of [`order_key`] (giving `0.0` for `-0.0`).
fn key_value(key: u64) -> f64 {
    f64::from_bits(unordered_bits(key, 64))
}

/// [`order_key`] of a non-NaN `f32`, in 32 bits.
fn order_key32(v: f32) -> u32 {
    ordered_bits(u64::from((v + 0.0).to_bits()), 32) as u32
}

/// Inverse of [`order_key32`] (giving `0.0` for `-0.0`).
fn key32_value(key: u32) -> f32 {
    f32::from_bits(unordered_bits(u64::from(key), 32) as u32)
}

/// The IEEE bits of a float `width` bits wide as an unsigned key in the float's order: the
/// sign bit set for non-negative values, every bit flipped for negative ones.
fn ordered_bits(bits: u64, width: u32) -> u64 {
    let sign = 1 << (width - 1);
    if bits & sign != 0 {
        !bits & (u64::MAX >> (64 - width))
    } else {
        bits | sign
    }
}

/// Inverse of [`ordered_bits`].
fn unordered_bits(key: u64, width: u32) -> u64 {
    let sign = 1 << (width - 1);
    if key & sign != 0 {
        key & !sign
    } else {
        !key & (u64::MAX >> (64 - width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bulk scores, median and folded scores of `x`, and whether `x` was packed.
    fn ranking(x: &[f64]) -> (Vec<f64>, f64, Vec<f64>, bool) {
        let mut ranker = Ranker::default();
        ranker.sort(x);
        let mut bulk = vec![f64::NAN; x.len()];
        ranker.normal_scores(&mut bulk);
        let median = ranker.median();
        let mut folded = vec![f64::NAN; x.len()];
        assert!(ranker.folded_normal_scores(median, &mut folded));
        (bulk, median, folded, ranker.wide.is_empty())
    }

    #[test]
    fn packed_and_wide_rankings_give_the_same_scores() {
        // Ties, both zeros and f32's extremes.
        let x: Vec<f64> = (0..997)
            .map(|k| match k % 11 {
                0 => -0.0,
                1 => 0.0,
                2 => f64::from(f32::MAX),
                3 => f64::from(f32::MIN_POSITIVE),
                4 => f64::from(f32::MIN),
                _ => f64::from(((k * 37) % 101) as f32 / 8.0 - 6.0),
            })
            .collect();
        // Scaled by a power of two past f32's range: the same order, ties and folds (the
        // scaling is exact), but sorted as pairs.
        let scale = 2f64.powi(200);
        let wide: Vec<f64> = x.iter().map(|&v| v * scale).collect();
        let (packed_bulk, packed_median, packed_folded, packed) = ranking(&x);
        let (wide_bulk, wide_median, wide_folded, was_packed) = ranking(&wide);
        assert!(packed && !was_packed);
        assert_eq!(packed_median * scale, wide_median);
        for (i, (p, w)) in packed_bulk.iter().zip(&wide_bulk).enumerate() {
            assert_eq!(p.to_bits(), w.to_bits(), "bulk {}: {p} against {w}", x[i]);
        }
        for (i, (p, w)) in packed_folded.iter().zip(&wide_folded).enumerate() {
            assert_eq!(p.to_bits(), w.to_bits(), "folded {}: {p} against {w}", x[i]);
        }
    }

    #[test]
    fn radix_sort_orders_by_key_then_index() {
        // Keys from a small generator, many repeated, in every byte; indices in order.
        let mut state = 12345u32;
        let mut entries: Vec<u64> = (0..5000u64)
            .map(|i| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let key = state >> (state % 24);
                u64::from(key) << 32 | i
            })
            .collect();
        let mut expected = entries.clone();
        expected.sort_unstable();
        let mut scratch = Vec::new();
        radix_sort_by_key(&mut entries, &mut scratch);
        assert_eq!(entries, expected);
        // One shared key: every pass skipped, the order kept.
        let mut same: Vec<u64> = (0..300u64).map(|i| 7 << 32 | i).collect();
        let before = same.clone();
        radix_sort_by_key(&mut same, &mut scratch);
        assert_eq!(same, before);
    }

    #[test]
    fn tabulated_scores_are_the_average_rank_formula() {
        let scores = NormalScores::tabulate(10);
        let score_of = |rank: f64| inverse_normal_cdf((rank - BLOM_OFFSET) / (10.0 - 0.75 + 1.0));
        for rank in 1..=10 {
            assert_eq!(scores.of_ranks(rank - 1, 1), score_of(rank as f64));
        }
        // Ranks 4, 5 and 6 tied: average rank 5, from the table; 4 and 5: 4.5.
        assert_eq!(scores.of_ranks(3, 3), score_of(5.0));
        assert_eq!(scores.of_ranks(3, 2), score_of(4.5));
        assert_eq!(scores.of_ranks(0, 10), score_of(5.5));
    }

    #[test]
    fn order_keys_round_trip_and_keep_order() {
        let values = [
            f32::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-40,
            3.0,
            f32::INFINITY,
        ];
        for pair in values.windows(2) {
            assert!(order_key32(pair[0]) <= order_key32(pair[1]));
            assert!(order_key(f64::from(pair[0])) <= order_key(f64::from(pair[1])));
        }
        for v in values {
            assert_eq!(key32_value(order_key32(v)), v + 0.0);
            assert_eq!(key_value(order_key(f64::from(v))), f64::from(v) + 0.0);
        }
    }
}
