//! Philox4x32-10, the counter-based generator every random draw comes from (CPU twin of `shaders/philox.wgsl`).
//!
//! Salmon, Moraes, Dror & Shaw (2011), "Parallel random numbers: as easy as 1, 2, 3" (Random123).
//! A draw is a pure function of a 128-bit counter and a 64-bit key, so any draw can be
//! recomputed without replaying the ones before it. langevin keys the generator with the run's
//! seed and builds the counter from `(chain, step, block, stream)`:
//!
//! * `chain` — the global chain id, `0..C`;
//! * `step` — the 0-based step index of the update the draw belongs to;
//! * `block` — the parameter block: dimensions `4·block .. 4·block + 3` share one call;
//! * `stream` — what the draw is for ([`Stream`]), so noise and initial positions never reuse
//!   a counter.
//!
//! The GPU kernels evaluate exactly the same function; the integer outputs are bit-exact with
//! [`philox4x32_10`] (tested against Random123's published known-answer vectors and against the
//! GPU). Normals come from all four words by Box–Muller ([`normals_from_words`]).

/// First round multiplier of Philox4x32 (Random123's `PHILOX_M4x32_0`).
const MULTIPLIER_0: u32 = 0xD251_1F53;
/// Second round multiplier of Philox4x32 (`PHILOX_M4x32_1`).
const MULTIPLIER_1: u32 = 0xCD9E_8D57;
/// Weyl increment of key word 0 (golden ratio, `PHILOX_W32_0`).
const WEYL_0: u32 = 0x9E37_79B9;
/// Weyl increment of key word 1 (`sqrt(3) − 1`, `PHILOX_W32_1`).
const WEYL_1: u32 = 0xBB67_AE85;

/// What a block of random words is used for: the fourth counter word.
///
/// Different streams never share a counter, so the noise of step 0 is independent of the
/// initial positions even though both have `step = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Stream {
    /// The Gaussian noise `ξ` of an update step.
    Noise = 0,
    /// Initial positions drawn from `N(0, σ₀²)`.
    Init = 1,
    /// Mini-batch indices drawn with replacement.
    Batch = 2,
    /// Round keys of the per-epoch permutation for sampling without replacement.
    Permutation = 3,
    /// Synthetic gradient noise (`Settings::gradient_noise`), for studying samplers.
    GradientNoise = 4,
}

/// The 32×32 → 64-bit product split into its high and low words.
pub(crate) fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let product = u64::from(a) * u64::from(b);
    ((product >> 32) as u32, product as u32)
}

/// Philox4x32 with 10 rounds: four pseudo-random 32-bit words from a counter and a key.
///
/// Each round is `(hi₀, lo₀) = M₀·c₀`, `(hi₁, lo₁) = M₁·c₂`,
/// `c ← (hi₁ ⊕ c₁ ⊕ k₀, lo₁, hi₀ ⊕ c₃ ⊕ k₁, lo₀)`, and the key is bumped by the Weyl
/// constants between rounds.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(WEYL_0);
            k[1] = k[1].wrapping_add(WEYL_1);
        }
        let (hi0, lo0) = mulhilo(MULTIPLIER_0, c[0]);
        let (hi1, lo1) = mulhilo(MULTIPLIER_1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The key for a run seed: its low and high 32-bit halves.
pub fn key_for_seed(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// The four words for `(chain, step, block, stream)` under `key`.
pub fn words(key: [u32; 2], chain: u32, step: u32, block: u32, stream: Stream) -> [u32; 4] {
    philox4x32_10([chain, step, block, stream as u32], key)
}

/// Largest |z| Box–Muller can return: the radius at the smallest uniform, `2⁻²⁵`.
///
/// The radius uniform has 24 bits of resolution, `u = (⌊w / 2⁸⌋ + ½) / 2²⁴ ∈ [2⁻²⁵, 1 − 2⁻²⁵]`,
/// so `r = sqrt(−2 ln u) ≤ sqrt(50 ln 2) ≈ 5.887`. The normal tail beyond that has probability
/// about 4·10⁻⁹; its effect on the variance is below 10⁻⁷ — far under any Monte Carlo error.
pub const NORMAL_TAIL_CUT: f64 = 5.887_050_112_577;

/// A 32-bit word as a uniform in the open interval (0, 1) with 24 bits of resolution.
///
/// Exact in f32, so the GPU computes the same value bit for bit.
pub fn uniform_open(word: u32) -> f32 {
    ((word >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

/// Four standard normals from four words by Box–Muller (Box & Muller 1958).
///
/// Words `(w₀, w₁)` give `z₀ = r cos φ`, `z₁ = r sin φ` with `r = sqrt(−2 ln u(w₀))` and
/// `φ = π (2 u(w₁) − 1)`; words `(w₂, w₃)` give `z₂, z₃` the same way. The angle lies in
/// `[−π, π)`, where GPU `sin`/`cos` are most accurate. See [`NORMAL_TAIL_CUT`] for the tails.
///
/// The CPU twin evaluates the transcendental functions in f64 and rounds once, so it is the
/// more accurate of the two; GPU normals agree within the adapter's `log`/`sin`/`cos` error.
pub fn normals_from_words(w: [u32; 4]) -> [f32; 4] {
    let pair = |radius_word: u32, angle_word: u32| {
        let r = (-2.0 * f64::from(uniform_open(radius_word)).ln()).sqrt();
        let phi = std::f64::consts::PI * (2.0 * f64::from(uniform_open(angle_word)) - 1.0);
        ((r * phi.cos()) as f32, (r * phi.sin()) as f32)
    };
    let (z0, z1) = pair(w[0], w[1]);
    let (z2, z3) = pair(w[2], w[3]);
    [z0, z1, z2, z3]
}

/// Four standard normals for `(chain, step, block, stream)`: dimensions `4·block + k`.
pub fn normals(key: [u32; 2], chain: u32, step: u32, block: u32, stream: Stream) -> [f32; 4] {
    normals_from_words(words(key, chain, step, block, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's `kat_vectors` for philox4x32 with 10 rounds: (counter, key, output).
    const KNOWN_ANSWERS: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0; 4],
            [0; 2],
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
        ),
        (
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
        ),
        (
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0],
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
        ),
    ];

    #[test]
    fn matches_random123_known_answers() {
        for (counter, key, expected) in KNOWN_ANSWERS {
            assert_eq!(
                philox4x32_10(counter, key),
                expected,
                "counter {counter:x?}"
            );
        }
    }

    #[test]
    fn uniform_stays_inside_the_open_interval() {
        assert_eq!(uniform_open(0), 0.5 / 16_777_216.0);
        assert_eq!(uniform_open(u32::MAX), 1.0 - 0.5 / 16_777_216.0);
        let biggest = normals_from_words([0, 0x8000_0000, 0, 0x8000_0000]);
        assert!((f64::from(biggest[0].abs()) - NORMAL_TAIL_CUT).abs() < 1e-5);
    }

    #[test]
    fn streams_and_counters_give_different_words() {
        let key = key_for_seed(7);
        let noise = words(key, 3, 0, 1, Stream::Noise);
        assert_ne!(noise, words(key, 3, 0, 1, Stream::Init));
        assert_ne!(noise, words(key, 3, 1, 1, Stream::Noise));
        assert_ne!(noise, words(key_for_seed(8), 3, 0, 1, Stream::Noise));
    }

    /// Value stability: the first normals for seed 7 are a promise to users; changing them
    /// changes every pinned draw. Integers are exact; floats to f32 rounding of the f64 formula.
    #[test]
    fn first_normals_for_seed_seven_are_pinned() {
        let key = key_for_seed(7);
        let w = words(key, 0, 0, 0, Stream::Noise);
        let z = normals(key, 0, 0, 0, Stream::Noise);
        assert_eq!(w, PINNED_WORDS);
        for (got, want) in z.iter().zip(PINNED_NORMALS) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }
    const PINNED_WORDS: [u32; 4] = [0xf460_7a2d, 0xc009_f9dc, 0x1d3a_ba42, 0x15ed_ac82];
    const PINNED_NORMALS: [f32; 4] = [-0.000_291_583_5, 0.304_847_03, -1.788_757_3, -1.067_872_4];
}
