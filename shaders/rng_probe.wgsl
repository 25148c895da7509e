//! Test probe: raw Philox words and their normals for given counters, so the CPU twin can be
//! held bit-exact to the GPU.


@compute @workgroup_size(WORKGROUP_SIZE)
fn rng_probe(@builtin(global_invocation_id) id: vec3<u32>,
             @builtin(num_workgroups) groups: vec3<u32>) {
    let index = thread_index(id, groups);
    if (index >= arrayLength(&counters)) {
        return;
    }
    let w = philox4x32_10(counters[index], run_key(run));
    words[index] = w;
    normals[index] = normals_from_words(w);
}
