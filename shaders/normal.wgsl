//! Standard normals from Philox words by Box–Muller, twin of `rng::normals_from_words`.

const PI: f32 = 3.14159265358979;

/// (⌊w / 2⁸⌋ + ½) / 2²⁴: a uniform in (0, 1), exact in f32.
fn uniform_open(word: u32) -> f32 {
    return (f32(word >> 8u) + 0.5) * (1.0 / 16777216.0);
}

/// z₀ = r cos φ, z₁ = r sin φ from (w₀, w₁), and z₂, z₃ from (w₂, w₃), with r = sqrt(−2 ln u),
/// φ = π (2u − 1) ∈ [−π, π). |z| ≤ 5.887 (`rng::NORMAL_TAIL_CUT`).
fn normals_from_words(w: vec4<u32>) -> vec4<f32> {
    let radius = sqrt(-2.0 * log(vec2<f32>(uniform_open(w.x), uniform_open(w.z))));
    let angle = PI * (2.0 * vec2<f32>(uniform_open(w.y), uniform_open(w.w)) - 1.0);
    return vec4<f32>(radius.x * cos(angle.x), radius.x * sin(angle.x),
                     radius.y * cos(angle.y), radius.y * sin(angle.y));
}
