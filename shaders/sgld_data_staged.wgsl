//! Fused SGLD for data models with one mini-batch shared by all chains: each step the
//! workgroup draws the batch once and stages its rows in workgroup memory, then every thread
//! (one chain each) forms its gradient from the staged rows and moves. Same arithmetic, in the
//! same order, as sgld_data.wgsl.

@compute @workgroup_size(WORKGROUP_SIZE)
fn sgld_data_staged(@builtin(global_invocation_id) id: vec3<u32>,
                    @builtin(num_workgroups) groups: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let chain = thread_index(id, groups);
    // Threads past the last chain still stage rows and meet every barrier.
    let has_chain = chain < run.chains;
    current_chain = chain;
    let key = run_key(run);
    for (var s = 0u; s < dispatch.step_count; s++) {
        let step = dispatch.first_step + s;
        let scalars = schedule[dispatch.table_offset + s];
        stage_batch(key, SHARED_BATCH, step, lid);
        if (has_chain) {
            for (var d = 0u; d < run.dim; d++) {
                gradient[state_index(run, d, chain)] = gradient_before_batch(d);
            }
            for (var j = 0u; j < data.batch; j++) {
                add_example(j);
            }
            move_chain(chain, step, scalars);
        }
        // The next step's staging must not overwrite rows still being read.
        workgroupBarrier();
    }
    if (has_chain) {
        store_draw_of_chain(chain);
    }
}
