//! Fused SGLD for data models, one thread per chain: draw the step's mini-batch, form
//! ∇Ũ(θ) = ∇(−log p(θ)) − (N/n) Σ_{i∈S} ∇ log p(y_i | x_i, θ) through the model's two
//! functions (data_target.wgsl), then move. The gradient is complete before any coordinate
//! moves. Twin of `DataModel::gradient`.

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_data(@builtin(global_invocation_id) id: vec3<u32>,
             @builtin(num_workgroups) groups: vec3<u32>) {
    let chain = thread_index(id, groups);
    if (chain >= run.chains) {
        return;
    }
    current_chain = chain;
    let key = run_key(run);
    var owner = SHARED_BATCH;
    if (data.per_chain == 1u) {
        owner = global_chain(run, chain);
    }
    for (var s = 0u; s < dispatch.step_count; s++) {
        let step = dispatch.first_step + s;
        let scalars = schedule[dispatch.table_offset + s];
        for (var d = 0u; d < run.dim; d++) {
            gradient[state_index(run, d, chain)] = gradient_before_batch(d);
        }
        var cursor = batch_cursor(key, owner, step);
        for (var j = 0u; j < data.batch; j++) {
            add_example(next_batch_index(&cursor, key, data.mode, data.batch, data.rows, j));
        }
        move_chain(chain, step, scalars);
    }
    store_draw_of_chain(chain);
}
