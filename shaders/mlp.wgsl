//! A one-hidden-layer MLP classifier (a Bayesian neural network): labels y ∈ {−1, +1},
//! P(y = 1) = σ(η), η = b₂ + Σ_h w₂[h] tanh(b₁[h] + Σ_j W₁[h][j] x_j), prior N(0, σ² I) on every
//! weight. θ = (W₁ row-major H×F, b₁, w₂, b₂). Parameters: param(0) = σ², param(1) = H,
//! param(2) = F. Hidden activations are recomputed in the backward pass instead of stored.

fn mlp_hidden() -> u32 {
    return u32(param(1u));
}

fn mlp_features() -> u32 {
    return u32(param(2u));
}

/// Index of W₁[h][j], b₁[h], w₂[h] and b₂ in θ.
fn w1_index(h: u32, j: u32) -> u32 {
    return h * mlp_features() + j;
}

fn b1_index(h: u32) -> u32 {
    return mlp_hidden() * mlp_features() + h;
}

fn w2_index(h: u32) -> u32 {
    return mlp_hidden() * (mlp_features() + 1u) + h;
}

fn b2_index() -> u32 {
    return mlp_hidden() * (mlp_features() + 2u);
}

fn hidden_activation(row: u32, h: u32) -> f32 {
    var pre = theta_at(b1_index(h));
    for (var k = row_start(row); k < row_end(row); k++) {
        pre = fma(value(k), theta_at(w1_index(h, column(k))), pre);
    }
    return tanh(pre);
}

fn prior_gradient(d: u32) -> f32 {
    return theta_at(d) / param(0u);
}

fn likelihood_gradient(row: u32) {
    let hidden = mlp_hidden();
    var eta = theta_at(b2_index());
    for (var h = 0u; h < hidden; h++) {
        eta = fma(theta_at(w2_index(h)), hidden_activation(row, h), eta);
    }
    let y = label(row);
    // d log σ(yη)/dη = y σ(−yη).
    let g = y / (1.0 + exp(y * eta));
    add_loglik_gradient(b2_index(), g);
    for (var h = 0u; h < hidden; h++) {
        let a = hidden_activation(row, h);
        add_loglik_gradient(w2_index(h), g * a);
        let back = g * theta_at(w2_index(h)) * (1.0 - a * a);
        add_loglik_gradient(b1_index(h), back);
        for (var k = row_start(row); k < row_end(row); k++) {
            add_loglik_gradient(w1_index(h, column(k)), back * value(k));
        }
    }
}
