//! Multi-step SGLD (any per-coordinate rule) for generalised linear models, REG_CHAINS chains
//! per invocation with θ and ∇ in private memory across every step of a dispatch. Shaped for
//! CPUs (llvmpipe), where each load whose address is not a compile-time constant costs a loop
//! over the lanes and barriers cost a pass over the workgroup:
//!   * every trip count and the batch mode are constants generated with the module
//!     (REG_CHAINS, REG_DIM, REG_WIDTH, REG_BATCH, REG_PER_CHAIN, REG_MODE), so loops over
//!     chains, coordinates and row entries fold and the batch's branches vanish;
//!   * rows are padded to REG_WIDTH entries (lengths in `row_offsets`), and each example's row
//!     is read once into private memory and serves both passes (η = θ₀·[intercept] + xᵀθ and
//!     ∇ += −(N/n) g(y, η) x) of every chain of the invocation (a shared batch) — with dense
//!     features (REG_DENSE) the column of entry j is j itself, a constant;
//!   * the shared batch's indices come four from each Philox call, the same counters as
//!     minibatch.wgsl;
//!   * the intercept is a constant too (REG_INTERCEPT), so with dense features every index into
//!     θ and ∇ folds and they live in registers;
//!   * sparse features whose every stored value is 1 (one-hot or bag-of-words indicators;
//!     REG_BINARY) read only their columns: x = 1 makes fma(x, θ, η) = θ + η and g·x = g
//!     exactly, so the draws are unchanged and each entry costs one row load instead of two;
//!   * no barrier: each invocation is independent;
//!   * with control variates (REG_CONTROL_VARIATES), the centre's term of an example,
//!     d log p(y | η̂)/dη at θ̂, is the same for every chain: it is formed once per example;
//!   * full-batch linear regression on `Auto` (REG_GRAM) forms the batch's term from the
//!     data's sufficient statistics, D² products per chain in place of a pass over the rows;
//!   * in a dense metric (REG_METRIC), each chain's move is the two products
//!     of move_chain.wgsl's, over ∇ in private memory, every block loop of constant length.
//! Per coordinate the gradient is summed in the same order and with the same operations as the
//! per-chain kernel (sgld_data.wgsl with glm.wgsl), so the draws are the global path's up to
//! the driver's choice to fuse a multiply-add.

alias RegState = array<f32, REG_STATE>;

var<private> reg_theta: RegState;
var<private> reg_gradient: RegState;
// With REG_SPLIT_MOVE (dense features, few coordinates), the move's copies of θ and ∇. The
// move loops over chains with a body too large to unroll, so it indexes by a variable; kept
// apart, reg_theta and reg_gradient are indexed only by constants and the compiler holds
// them in registers. Where the batch indexes them by a variable anyway (sparse features, many
// coordinates), the move works on them directly and the copies go unused.
var<private> move_theta: RegState;
var<private> move_gradient: RegState;
var<private> reg_x: array<f32, REG_WIDTH>;
var<private> reg_column: array<u32, REG_WIDTH>;

/// The column of entry `j` of the loaded row: `j` itself for dense features, a constant the
/// compiler folds into the private array's index.
fn reg_col(j: u32) -> u32 {
    if (REG_DENSE) {
        return j;
    }
    return reg_column[j];
}

/// The value of entry `j` of the loaded row: 1, a constant, for binary features.
fn reg_value(j: u32) -> f32 {
    if (REG_BINARY) {
        return 1.0;
    }
    return reg_x[j];
}

/// Reads example `row`'s padded entries into private memory; returns its stored length
/// (dense rows have no padding: REG_WIDTH, a constant).
fn reg_load_row(row: u32) -> u32 {
    for (var j = 0u; j < REG_WIDTH; j++) {
        if (!REG_BINARY) {
            reg_x[j] = values[row * REG_WIDTH + j];
        }
        if (!REG_DENSE) {
            reg_column[j] = columns[row * REG_WIDTH + j];
        }
    }
    if (REG_DENSE) {
        return REG_WIDTH;
    }
    return row_offsets[row];
}

/// d log p(y | η̂)/dη of the loaded row at the control variate's centre θ̂.
fn reg_centre_term(y: f32, len: u32) -> f32 {
    var eta = 0.0;
    if (REG_INTERCEPT == 1u) {
        eta = control_variate[0];
    }
    for (var j = 0u; j < REG_WIDTH; j++) {
        let next = fma(reg_value(j), control_variate[reg_col(j) + REG_INTERCEPT], eta);
        eta = select(eta, next, REG_DENSE || j < len);
    }
    return dloglik_deta(y, eta);
}

/// Adds example `row`'s likelihood term to chain `k`'s gradient (row already loaded), and with
/// control variates subtracts the centre's term `centre`, as data_target.wgsl's at_mode does.
fn reg_add_example(k: u32, y: f32, len: u32, centre: f32) {
    let base = k * REG_DIM;
    var eta = 0.0;
    if (REG_INTERCEPT == 1u) {
        eta = reg_theta[base];
    }
    for (var j = 0u; j < REG_WIDTH; j++) {
        let next = fma(reg_value(j), reg_theta[base + reg_col(j) + REG_INTERCEPT], eta);
        eta = select(eta, next, REG_DENSE || j < len);
    }
    let g = dloglik_deta(y, eta);
    if (REG_INTERCEPT == 1u) {
        reg_gradient[base] = fma(-data.scale, g, reg_gradient[base]);
    }
    for (var j = 0u; j < REG_WIDTH; j++) {
        let i = base + reg_col(j) + REG_INTERCEPT;
        let next = fma(-data.scale, g * reg_value(j), reg_gradient[i]);
        reg_gradient[i] = select(reg_gradient[i], next, REG_DENSE || j < len);
    }
    if (REG_CONTROL_VARIATES) {
        if (REG_INTERCEPT == 1u) {
            reg_gradient[base] = fma(-data.scale, -centre, reg_gradient[base]);
        }
        for (var j = 0u; j < REG_WIDTH; j++) {
            let i = base + reg_col(j) + REG_INTERCEPT;
            let next = fma(-data.scale, -(centre * reg_value(j)), reg_gradient[i]);
            reg_gradient[i] = select(reg_gradient[i], next, REG_DENSE || j < len);
        }
    }
}

/// Example `row` for chain `k` of the invocation, or (k = REG_CHAINS) for all of them.
fn reg_example(row: u32, k: u32) {
    let len = reg_load_row(row);
    let y = labels[row];
    var centre = 0.0;
    if (REG_CONTROL_VARIATES) {
        centre = reg_centre_term(y, len);
    }
    if (k < REG_CHAINS) {
        reg_add_example(k, y, len, centre);
        return;
    }
    for (var each = 0u; each < REG_CHAINS; each++) {
        reg_add_example(each, y, len, centre);
    }
}

/// The batch of `owner` at `step` for chain `k` of the invocation, or (k = REG_CHAINS) for
/// all of them.
fn reg_batch(key: vec2<u32>, owner: u32, step: u32, k: u32) {
    if (REG_MODE == BATCH_WITH_REPLACEMENT) {
        for (var quad = 0u; quad < (REG_BATCH + 3u) / 4u; quad++) {
            let words = philox4x32_10(vec4<u32>(owner, step, quad, STREAM_BATCH), key);
            for (var lane = 0u; lane < 4u; lane++) {
                if (quad * 4u + lane < REG_BATCH) {
                    reg_example(mulhilo(words[lane], data.rows).x, k);
                }
            }
        }
        return;
    }
    var cursor = batch_cursor(key, owner, step);
    for (var j = 0u; j < REG_BATCH; j++) {
        reg_example(next_batch_index(&cursor, key, REG_MODE, data.batch, data.rows, j), k);
    }
}

/// The full batch's likelihood term of every chain of the invocation from the data's
/// sufficient statistics (linear regression; REG_GRAM): since Σᵢ (yᵢ − x̃ᵢᵀθ) x̃ᵢ = X̃ᵀy − X̃ᵀX̃ θ,
/// ∇ += −(N/n)(1/s²)(X̃ᵀy − X̃ᵀX̃ θ), D² products per chain in place of the rows' 2·n·w. The
/// statistics follow the GLM's constants in `model_params`, X̃ᵀX̃ row-major, then X̃ᵀy. Sums
/// in another order than the rows', so the draws equal the per-row paths' to rounding only.
fn reg_gram_gradient() {
    let gram = GLM_CONSTANTS;
    let xty = GLM_CONSTANTS + REG_DIM * REG_DIM;
    for (var k = 0u; k < REG_CHAINS; k++) {
        for (var d = 0u; d < REG_DIM; d++) {
            var residual = model_params[xty + d];
            for (var e = 0u; e < REG_DIM; e++) {
                residual = fma(-model_params[gram + d * REG_DIM + e], reg_theta[k * REG_DIM + e],
                               residual);
            }
            let i = k * REG_DIM + d;
            reg_gradient[i] = fma(-data.scale, residual * param(1u), reg_gradient[i]);
        }
    }
}

/// Four coordinates of chain `k`'s gradient in `gradients` from 4·`block`, zeros past D.
fn gradient_block(gradients: ptr<private, RegState>, k: u32, block: u32) -> vec4<f32> {
    var g = vec4<f32>(0.0);
    for (var lane = 0u; lane < 4u; lane++) {
        let d = block * 4u + lane;
        if (d < REG_DIM) {
            g[lane] = (*gradients)[k * REG_DIM + d];
        }
    }
    return g;
}

/// The step of every chain of the invocation (run chains `first` …) by the run's
/// per-coordinate rule, on `thetas` and `gradients` (θ and ∇ of every chain).
fn reg_move(first: u32, step: u32, scalars: StepScalars, thetas: ptr<private, RegState>,
            gradients: ptr<private, RegState>) {
    for (var k = 0u; k < REG_CHAINS; k++) {
        if (first + k >= run.chains) {
            continue;
        }
        let base = k * REG_DIM;
        for (var block = 0u; block < REG_BLOCKS; block++) {
            var x = vec4<f32>(0.0);
            var g = vec4<f32>(0.0);
            for (var lane = 0u; lane < 4u; lane++) {
                let d = block * 4u + lane;
                if (d < REG_DIM) {
                    x[lane] = (*thetas)[base + d];
                    g[lane] = (*gradients)[base + d];
                }
            }
            let moved = step_chain_block(first + k, step, block, x, g, scalars);
            for (var lane = 0u; lane < 4u; lane++) {
                let d = block * 4u + lane;
                if (d < REG_DIM) {
                    (*thetas)[base + d] = moved[lane];
                }
            }
        }
    }
}

/// The step of every chain of the invocation (run chains `first` …) in the dense metric
/// M = L Lᵀ, each chain with the arithmetic of move_chain_in_metric: v = s ξ − η Lᵀ g in place
/// of g, then θ ← θ + L v. Each block of a factor row is loaded once for all REG_CHAINS
/// chains. The products run over every block (the triangles' zeros add exact zeros), so the
/// inner loops have constant length. Chains past the run's last are moved too (their state
/// is the last chain's copy and is never stored).
fn reg_move_in_metric(first: u32, step: u32, step_scalars: StepScalars,
                      thetas: ptr<private, RegState>, gradients: ptr<private, RegState>) {
    var scalars: array<StepScalars, REG_CHAINS>;
    for (var k = 0u; k < REG_CHAINS; k++) {
        let chain = first + k;
        scalars[k] = at_temperature(step_scalars, chain_temperature(min(chain, run.chains - 1u)));
        if (run.gradient_noise > 0.0) {
            for (var block = 0u; block < REG_BLOCKS; block++) {
                let noisy = with_gradient_noise(gradient_block(gradients, k, block), chain, step, block);
                for (var lane = 0u; lane < 4u; lane++) {
                    if (block * 4u + lane < REG_DIM) {
                        (*gradients)[k * REG_DIM + block * 4u + lane] = noisy[lane];
                    }
                }
            }
        }
    }
    var z: array<vec4<f32>, REG_CHAINS>;
    var sums: array<f32, REG_CHAINS>;
    for (var i = 0u; i < REG_DIM; i++) {
        for (var k = 0u; k < REG_CHAINS; k++) {
            if (i % 4u == 0u) {
                z[k] = step_noise(first + k, step, i / 4u, scalars[k]);
            }
            sums[k] = 0.0;
        }
        for (var block = 0u; block < REG_BLOCKS; block++) {
            let row = metric_block(1u, i, block);
            for (var k = 0u; k < REG_CHAINS; k++) {
                sums[k] = fma_dot(row, gradient_block(gradients, k, block), sums[k]);
            }
        }
        for (var k = 0u; k < REG_CHAINS; k++) {
            (*gradients)[k * REG_DIM + i] =
                fma(scalars[k].noise_scale, z[k][i % 4u], -scalars[k].eta * sums[k]);
        }
    }
    for (var d = 0u; d < REG_DIM; d++) {
        for (var k = 0u; k < REG_CHAINS; k++) {
            sums[k] = 0.0;
        }
        for (var block = 0u; block < REG_BLOCKS; block++) {
            let row = metric_block(0u, d, block);
            for (var k = 0u; k < REG_CHAINS; k++) {
                sums[k] = fma_dot(row, gradient_block(gradients, k, block), sums[k]);
            }
        }
        for (var k = 0u; k < REG_CHAINS; k++) {
            (*thetas)[k * REG_DIM + d] = (*thetas)[k * REG_DIM + d] + sums[k];
        }
    }
}

/// The step of every chain of the invocation on `thetas` and `gradients`, in the run's metric.
fn reg_move_any(first: u32, step: u32, scalars: StepScalars, thetas: ptr<private, RegState>,
                gradients: ptr<private, RegState>) {
    if (REG_METRIC) {
        reg_move_in_metric(first, step, scalars, thetas, gradients);
    } else {
        reg_move(first, step, scalars, thetas, gradients);
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_glm_register(@builtin(global_invocation_id) id: vec3<u32>,
                     @builtin(num_workgroups) groups: vec3<u32>) {
    let first = thread_index(id, groups) * REG_CHAINS;
    // An invocation's chains past the run's last (all of them, past the last invocation)
    // are computed from the last chain's state and store nothing: every loop keeps its
    // constant trip count, and no early return puts the step loop under a lane mask.
    let key = run_key(run);
    for (var k = 0u; k < REG_CHAINS; k++) {
        let chain = min(first + k, run.chains - 1u);
        for (var d = 0u; d < REG_DIM; d++) {
            reg_theta[k * REG_DIM + d] = theta[state_index(run, d, chain)];
        }
    }
    for (var s = 0u; s < dispatch.step_count; s++) {
        let step = dispatch.first_step + s;
        let scalars = schedule[dispatch.table_offset + s];
        for (var k = 0u; k < REG_CHAINS; k++) {
            for (var d = 0u; d < REG_DIM; d++) {
                var before = param(0u) * reg_theta[k * REG_DIM + d];
                if (REG_CONTROL_VARIATES) {
                    before = before + control_variate[REG_DIM + d];
                }
                reg_gradient[k * REG_DIM + d] = before;
            }
        }
        if (REG_GRAM) {
            reg_gram_gradient();
        } else if (REG_PER_CHAIN) {
            for (var k = 0u; k < REG_CHAINS; k++) {
                reg_batch(key, global_chain(run, first + k), step, k);
            }
        } else {
            reg_batch(key, SHARED_BATCH, step, REG_CHAINS);
        }
        if (REG_SPLIT_MOVE) {
            // Nested loops of at most 32 trips each unroll where one over REG_STATE would not.
            for (var k = 0u; k < REG_CHAINS; k++) {
                for (var d = 0u; d < REG_DIM; d++) {
                    move_theta[k * REG_DIM + d] = reg_theta[k * REG_DIM + d];
                    move_gradient[k * REG_DIM + d] = reg_gradient[k * REG_DIM + d];
                }
            }
            reg_move_any(first, step, scalars, &move_theta, &move_gradient);
            for (var k = 0u; k < REG_CHAINS; k++) {
                for (var d = 0u; d < REG_DIM; d++) {
                    reg_theta[k * REG_DIM + d] = move_theta[k * REG_DIM + d];
                }
            }
        } else {
            reg_move_any(first, step, scalars, &reg_theta, &reg_gradient);
        }
    }
    for (var k = 0u; k < REG_CHAINS; k++) {
        if (first + k >= run.chains) {
            continue;
        }
        for (var d = 0u; d < REG_DIM; d++) {
            let value = reg_theta[k * REG_DIM + d];
            theta[state_index(run, d, first + k)] = value;
            if (dispatch.draw_slot != NO_DRAW) {
                draws[draw_index(run, dispatch.draw_slot, d, first + k)] = value;
            }
        }
    }
}
