//! Fused SGLD for regression models (a log-likelihood through η = xᵀθ), one thread per chain:
//! draw the step's mini-batch, form ∇Ũ(θ) = θ/σ² − (N/n) Σ_{i∈S} x_i dℓ/dη(y_i, x_iᵀθ), update.
//! The gradient is complete before any coordinate moves. Twin of `Regression::gradient`.

/// Coefficient of feature column `column`.
fn coefficient(column: u32) -> u32 {
    return column + model.intercept;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_regression(@builtin(global_invocation_id) id: vec3<u32>,
                   @builtin(num_workgroups) groups: vec3<u32>) {
    let chain = thread_index(id, groups);
    if (chain >= run.chains) {
        return;
    }
    let key = run_key(run);
    var owner = SHARED_BATCH;
    if (model.per_chain == 1u) {
        owner = chain;
    }
    for (var s = 0u; s < dispatch.step_count; s++) {
        let step = dispatch.first_step + s;
        let scalars = schedule[dispatch.table_offset + s];
        for (var d = 0u; d < run.dim; d++) {
            let i = state_index(run, d, chain);
            gradient[i] = model.prior_precision * theta[i];
        }
        var cursor = batch_cursor(key, owner, step);
        for (var j = 0u; j < model.batch; j++) {
            let row = next_batch_index(&cursor, key, model.mode, model.batch, model.rows, j);
            let start = row_offsets[row];
            let end = row_offsets[row + 1u];
            var eta = 0.0;
            if (model.intercept == 1u) {
                eta = theta[state_index(run, 0u, chain)];
            }
            for (var k = start; k < end; k++) {
                eta = fma(values[k], theta[state_index(run, coefficient(columns[k]), chain)], eta);
            }
            let g = -model.scale * dloglik_deta(labels[row], eta);
            if (model.intercept == 1u) {
                let i = state_index(run, 0u, chain);
                gradient[i] = gradient[i] + g;
            }
            for (var k = start; k < end; k++) {
                let i = state_index(run, coefficient(columns[k]), chain);
                gradient[i] = fma(g, values[k], gradient[i]);
            }
        }
        sgld_move_chain(chain, step, scalars);
    }
    store_draw_of_chain(chain);
}
