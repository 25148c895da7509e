//! 32×32 → 64-bit multiply for Philox with native 64-bit integers (wgpu `SHADER_INT64`).

/// (high word, low word) of a·b.
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let product = u64(a) * u64(b);
    return vec2<u32>(u32(product >> 32u), u32(product));
}
