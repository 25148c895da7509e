//! Logistic likelihood with y ∈ {−1, +1}: log p(y | η) = log σ(yη), so
//! d log p / dη = y σ(−yη) = y / (1 + e^{yη}) (e^{yη} = ∞ gives 0, never NaN).

fn dloglik_deta(y: f32, eta: f32) -> f32 {
    return y / (1.0 + exp(y * eta));
}
