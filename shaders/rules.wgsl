//! The update rules, four coordinates at a time (twins of
//! `sampler::{sgld, psgld, sghmc, sgnht}::reference_step`). The rule is a pipeline constant, so
//! each kernel is compiled with one rule only.


/// One step of four coordinates with gradient g and normals z (zero when the step injects no
/// noise): returns the new θ and updates the rule's per-coordinate state `aux`. SGNHT's
/// thermostat ζ enters as `zeta`; its update needs the whole chain (move_chain).
///   SGLD:  θ ← θ − η g + s ξ;
///   pSGLD: V ← αV + (1 − α) ḡ², G = 1/(λ + √V), θ ← θ − ηG g + s √G ξ  (ḡ = g/N);
///   SGHMC: v ← (1 − α) v − η g + s ξ, θ ← θ + v;
///   SGNHT: v ← v − ζ v h − g h + s ξ, θ ← θ + v h  (h = η).
fn step_block(x: vec4<f32>, aux: ptr<function, vec4<f32>>, g: vec4<f32>, z: vec4<f32>,
              scalars: StepScalars, zeta: f32) -> vec4<f32> {
    let eta = scalars.eta;
    let s = scalars.noise_scale;
    switch METHOD {
        case METHOD_PSGLD: {
            let alpha = run.method_a;
            let per_datum = g * run.per_datum;
            let v = fma(vec4<f32>(alpha), *aux, vec4<f32>(1.0 - alpha) * (per_datum * per_datum));
            *aux = v;
            let preconditioner = vec4<f32>(1.0) / (vec4<f32>(run.method_b) + sqrt(v));
            let moved = fma(-eta * preconditioner, g, x);
            return fma(s * sqrt(preconditioner), z, moved);
        }
        case METHOD_SGHMC: {
            let v = fma(vec4<f32>(s), z,
                        fma(vec4<f32>(-eta), g, vec4<f32>(1.0 - run.method_a) * *aux));
            *aux = v;
            return x + v;
        }
        case METHOD_SGNHT: {
            let v = fma(vec4<f32>(s), z,
                        fma(vec4<f32>(-eta), g, fma(vec4<f32>(-zeta * eta), *aux, *aux)));
            *aux = v;
            return fma(vec4<f32>(eta), v, x);
        }
        default: {
            return fma(vec4<f32>(s), z, fma(vec4<f32>(-eta), g, x));
        }
    }
}

/// Four entries of row `row` of a dense metric's padded factor (`factor` 0: L, 1: Lᵀ) from
/// column 4·`block`.
fn metric_block(factor: u32, row: u32, block: u32) -> vec4<f32> {
    let at = run.preconditioner_offset + ((factor * run.dim + row) * run.blocks + block) * 4u;
    return vec4<f32>(auxiliary[at], auxiliary[at + 1u], auxiliary[at + 2u], auxiliary[at + 3u]);
}

/// `acc + Σ_lane a[lane] b[lane]`, lane by lane in order (the CPU twin's order).
fn fma_dot(a: vec4<f32>, b: vec4<f32>, acc: f32) -> f32 {
    return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, acc))));
}

/// g plus the synthetic gradient noise σ ξ' of (chain, step, block), if the run asks for it.
fn with_gradient_noise(g: vec4<f32>, chain: u32, step: u32, block: u32) -> vec4<f32> {
    if (run.gradient_noise > 0.0) {
        let z = normals_from_words(
            philox4x32_10(vec4<u32>(global_chain(run, chain), step, block, STREAM_GRADIENT_NOISE),
                run_key(run)));
        return fma(vec4<f32>(run.gradient_noise), z, g);
    }
    return g;
}

/// The temperature of `chain` under the run's ladder, 1 without one.
fn chain_temperature(chain: u32) -> f32 {
    if (run.ladder_offset == NO_LADDER) {
        return 1.0;
    }
    return auxiliary[run.ladder_offset + chain];
}

/// The step's scalars for a chain at temperature `temperature` (1 leaves them unchanged): the
/// noise scale times sqrt(T_c), SGNHT's thermostat target times T_c.
fn at_temperature(scalars: StepScalars, temperature: f32) -> StepScalars {
    return StepScalars(scalars.eta, scalars.noise_scale * sqrt(temperature),
                       scalars.temperature * temperature, 0.0);
}

/// The normals of (chain, step, block), or zeros when the step injects no noise.
fn step_noise(chain: u32, step: u32, block: u32, scalars: StepScalars) -> vec4<f32> {
    if (scalars.noise_scale > 0.0) {
        return normals_from_words(
            philox4x32_10(vec4<u32>(global_chain(run, chain), step, block, STREAM_NOISE), run_key(run)));
    }
    return vec4<f32>(0.0);
}


/// One step of block `block` of `chain` for kernels that hold the position and gradient
/// elsewhere (workgroup memory, registers) but the rule's state in device memory: the chain's
/// ladder temperature, the gradient noise and the rule, lanes past D ignored. Returns the new
/// position; the rule's state is written back.
fn step_chain_block(chain: u32, step: u32, block: u32, x: vec4<f32>, g: vec4<f32>,
                    scalars: StepScalars) -> vec4<f32> {
    let chain_scalars = at_temperature(scalars, chain_temperature(chain));
    var aux = vec4<f32>(0.0);
    if (METHOD != METHOD_SGLD) {
        for (var lane = 0u; lane < 4u; lane++) {
            if (block * 4u + lane < run.dim) {
                aux[lane] = auxiliary[state_index(run, block * 4u + lane, chain)];
            }
        }
    }
    let z = step_noise(chain, step, block, chain_scalars);
    let noisy = with_gradient_noise(g, chain, step, block);
    let next = step_block(x, &aux, noisy, z, chain_scalars, 0.0);
    if (METHOD != METHOD_SGLD) {
        for (var lane = 0u; lane < 4u; lane++) {
            if (block * 4u + lane < run.dim) {
                auxiliary[state_index(run, block * 4u + lane, chain)] = aux[lane];
            }
        }
    }
    return next;
}
