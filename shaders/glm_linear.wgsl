//! Gaussian likelihood y ~ N(η, s²): d log p(y | η) / dη = (y − η) / s².

fn dloglik_deta(y: f32, eta: f32) -> f32 {
    return (y - eta) * param(1u);
}
