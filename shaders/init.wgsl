//! Initial positions θ₀,d ~ N(0, σ_d²) drawn from the run's Philox stream `STREAM_INIT`, with
//! σ_d = init_scales[d · run.init_scale_stride] (one σ₀ for all coordinates, or one each).


@compute @workgroup_size(WORKGROUP_SIZE)
fn init_positions(@builtin(global_invocation_id) id: vec3<u32>,
                  @builtin(num_workgroups) groups: vec3<u32>) {
    let me = chain_block(run, id, groups);
    if (!me.in_range) {
        return;
    }
    let chain = me.chain;
    let block = me.block;
    let z = normals_from_words(
        philox4x32_10(vec4<u32>(global_chain(run, chain), 0u, block, STREAM_INIT), run_key(run)));
    for (var lane = 0u; lane < 4u; lane++) {
        let d = block * 4u + lane;
        if (d < run.dim) {
            theta[state_index(run, d, chain)] = init_scales[d * run.init_scale_stride] * z[lane];
        }
    }
}
