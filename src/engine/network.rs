//! A network's GPU side: its buffers (layers, features, batch rows, activations, deltas, the
//! test set and its predictive sums), the passes of one step and the predictive passes run
//! after each kept draw (`shaders/network.wgsl`).

use crate::data::Dataset;
use crate::engine::choice::{network_first_layer_tiled, workgroup_size};
use crate::engine::job::Job;
use crate::engine::target::batch_law;
use crate::error::{Error, Result};
use crate::gpu::contract::{
    ChunkRecord, DispatchRecord, NetLayer, NetParams, NET_TILE_CHAINS, NET_TILE_EXAMPLES,
    NET_TILE_INPUTS, NET_TILE_THREADS, NET_TILE_UNITS,
};
use crate::gpu::kernels::{Kernel, NetPass, NET_EXAMPLES_PER_INVOCATION, NET_UNITS_PER_INVOCATION};
use crate::gpu::pipeline::{Pass, Pipeline, Threads};
use crate::gpu::Gpu;
use crate::model::{Network, Output};

/// A network's buffers and passes for one group of chains.
pub(crate) struct NetworkState {
    /// The passes of one step, in order: batch, forward per layer, output, backward per layer
    /// down to the second, update.
    pub(crate) step: Vec<Pass>,
    /// After a kept draw, per test chunk: forward per layer, then the predictive sums.
    pub(crate) predict: Vec<Pass>,
    /// Test chunks and the byte stride of their records.
    pub(crate) chunks: u32,
    pub(crate) chunk_stride: u64,
    /// Σ over kept draws and T = 1 chains, per test example: `NetParams::predictive_stride`
    /// values (see there).
    pub(crate) predictive: wgpu::Buffer,
    /// Test examples.
    pub(crate) test_rows: u32,
    /// Whether the first layer runs as the tiled product where its rows are shared.
    pub(crate) first_layer_tiled: bool,
    // Buffers the bind groups hold; kept here so they live as long as the groups.
    _buffers: Vec<wgpu::Buffer>,
}

/// The features as the shader's `values` words: four bytes to a word when every feature is
/// some k · (1/255) with k in 0..=255 (images scaled to [0, 1], decoded to the same f32 on the
/// device: a quarter of the memory and of the loads), else each f32's bits; refused when they
/// exceed the adapter's binding size. `which` names the set in that message.
fn feature_words(gpu: &Gpu, which: &str, data: &Dataset) -> Result<(Vec<u32>, bool)> {
    let (words, bytes) = pack_features(data);
    gpu.check_binding(
        &format!(
            "the {which} features dense ({} rows × {})",
            data.rows(),
            data.features()
        ),
        words.len() as u64 * 4,
    )?;
    Ok((words, bytes))
}

fn pack_features(data: &Dataset) -> (Vec<u32>, bool) {
    let dense = data.to_dense();
    let byte = |v: f32| {
        let k = (v * 255.0).round();
        (0.0..=255.0).contains(&k) && k * (1.0 / 255.0) == v
    };
    if !dense.iter().all(|&v| byte(v)) {
        return (dense.iter().map(|v| v.to_bits()).collect(), false);
    }
    let words = dense
        .chunks(4)
        .map(|four| {
            four.iter().enumerate().fold(0u32, |word, (lane, &v)| {
                word | (((v * 255.0).round() as u32) << (8 * lane))
            })
        })
        .collect();
    (words, true)
}

/// Where "network predictive sums" sits among the buffers `NetworkState::new` uploads (the
/// `NETWORK` binding table's last slot).
const PREDICTIVE_BUFFER: usize = 8;

/// Values per test example in the predictive sums (see `NetParams::predictive_stride`).
pub(crate) fn predictive_stride(output: &Output) -> u32 {
    match output.classes() {
        Some(classes) => classes as u32 + 2,
        None => 4,
    }
}

impl NetworkState {
    /// Allocates the network's buffers and compiles its passes; `step_buffers` are the step
    /// bindings every pass starts with (run, records, schedule, θ, draws, rule state).
    pub(crate) fn new(
        gpu: &Gpu,
        job: &Job,
        network: &Network,
        step_buffers: [&wgpu::Buffer; 6],
    ) -> Result<NetworkState> {
        let chains = u64::from(job.chains());
        let data = network.data();
        let layers = network.layers();
        let (batch, mode, per_chain) = batch_law(job, data.rows());
        let tile_first_layer = network_first_layer_tiled(gpu, job)?;
        let n = u64::from(batch);
        let quads = n.div_ceil(NET_EXAMPLES_PER_INVOCATION);
        // Activations and deltas: every layer's outputs for every (example, chain).
        let mut table = Vec::with_capacity(layers.len());
        let mut offset = 0u64;
        for layer in layers {
            table.push(NetLayer {
                inputs: layer.inputs as u32,
                outputs: layer.outputs as u32,
                weights: layer.weights as u32,
                biases: layer.biases as u32,
                weight_precision: layer.weight_precision,
                bias_precision: layer.bias_precision,
                offset: u32::try_from(offset).unwrap_or(u32::MAX),
                _pad: 0,
            });
            offset += n * layer.outputs as u64 * chains;
        }
        let what = format!(
            "the activations of {chains} chains × {batch} examples × {} units",
            layers.iter().map(|l| l.outputs).sum::<usize>()
        );
        gpu.check_binding(&what, offset * 4)?;
        if offset > u64::from(u32::MAX) {
            return Err(Error::invalid(
                "network",
                format!("{what} exceed 2³² values; use fewer chains or a smaller batch"),
            ));
        }
        let features = data.features() as u64;
        let (train_words, train_bytes) = feature_words(gpu, "training", data)?;
        let output = network.spec().output;
        let stride = predictive_stride(&output);
        let noise_precision = match output {
            Output::Gaussian { noise_variance } => (1.0 / noise_variance) as f32,
            _ => 1.0,
        };
        let params = |rows: usize, testing: bool, byte_features: bool| NetParams {
            rows: rows as u32,
            batch,
            mode,
            per_chain: u32::from(per_chain && !testing),
            scale: (data.rows() as f64 / f64::from(batch)) as f32,
            layers: layers.len() as u32,
            output: output.code(),
            units: output.units() as u32,
            features: features as u32,
            noise_precision,
            testing: u32::from(testing),
            activation: network.spec().activation.code(),
            predictive_stride: stride,
            byte_features: u32::from(byte_features),
            _pad1: 0,
            _pad2: 0,
        };
        let read = wgpu::BufferUsages::STORAGE;
        let uniform = wgpu::BufferUsages::UNIFORM;
        let test = network.test_set();
        let test_rows = test.map_or(0, |t| t.rows() as u32);
        let chunks = test_rows.div_ceil(batch);
        let chunk_stride = u64::from(gpu.limits().min_uniform_buffer_offset_alignment)
            .max(std::mem::size_of::<ChunkRecord>() as u64);
        let mut records = vec![0u8; (chunk_stride * u64::from(chunks.max(1))) as usize];
        for c in 0..chunks {
            let record = ChunkRecord {
                first: c * batch,
                count: batch.min(test_rows - c * batch),
                _pad0: 0,
                _pad1: 0,
            };
            let at = (u64::from(c) * chunk_stride) as usize;
            records[at..at + std::mem::size_of::<ChunkRecord>()]
                .copy_from_slice(bytemuck::bytes_of(&record));
        }
        let owners = if per_chain { chains } else { 1 };
        let buffers = vec![
            gpu.upload_buffer(
                "network params",
                bytemuck::bytes_of(&params(data.rows(), false, train_bytes)),
                uniform,
            ),
            gpu.upload_buffer("network test chunks", &records, uniform),
            gpu.upload_buffer("network layers", bytemuck::cast_slice(&table), read),
            gpu.upload_buffer("network features", bytemuck::cast_slice(&train_words), read),
            gpu.upload_buffer("network labels", bytemuck::cast_slice(data.labels()), read),
            gpu.storage_buffer(
                "network batch rows",
                owners * n * 4,
                wgpu::BufferUsages::empty(),
            ),
            gpu.storage_buffer(
                "network activations",
                offset * 4,
                wgpu::BufferUsages::empty(),
            ),
            gpu.storage_buffer("network deltas", offset * 4, wgpu::BufferUsages::empty()),
            gpu.storage_buffer(
                "network predictive sums",
                u64::from(test_rows) * u64::from(stride) * 4,
                wgpu::BufferUsages::COPY_SRC,
            ),
        ];
        let mut all: Vec<wgpu::Buffer> = Vec::new();
        let classes = output.classes().unwrap_or(1) as u32;
        let record_sizes = [
            std::mem::size_of::<DispatchRecord>() as u64,
            std::mem::size_of::<ChunkRecord>() as u64,
        ];
        let method = job.settings.method.code();
        let compile = |pass: NetPass, threads: Threads, bound: &[&wgpu::Buffer]| -> Result<Pass> {
            let count = match threads {
                Threads::Linear(t) => t,
                Threads::ChainBlocks { chains, blocks } => chains * blocks,
            };
            let pipeline = Pipeline::new(
                gpu,
                &Kernel::Network { pass, classes },
                workgroup_size(job, count),
                job.tuning.rng_multiply,
                method,
            )?;
            let group = pipeline.bind(gpu, bound, &record_sizes);
            Ok(Pass {
                pipeline,
                group,
                threads,
            })
        };
        // Forward and backward passes: one invocation per block of units (or inputs) ×
        // examples of each chain.
        let blocked = |units: usize| {
            Threads::Linear(chains * quads * (units as u64).div_ceil(NET_UNITS_PER_INVOCATION))
        };
        // The first layer's tiled products: a workgroup per NET_TILE_CHAINS chains ×
        // NET_TILE_UNITS units × `per_tile` of `rows` (examples or inputs).
        let tile_grid = |rows: u64, per_tile: u32| {
            Threads::Linear(
                chains.div_ceil(u64::from(NET_TILE_CHAINS))
                    * (layers[0].outputs as u64).div_ceil(u64::from(NET_TILE_UNITS))
                    * rows.div_ceil(u64::from(per_tile))
                    * u64::from(NET_TILE_THREADS),
            )
        };
        // The forward where the rows are shared (a test chunk has at most a batch's).
        let tiled = tile_grid(n, NET_TILE_EXAMPLES);
        let forward = |l: usize, shared_rows: bool| match (l, shared_rows && tile_first_layer) {
            (0, true) => (NetPass::ForwardTiled, tiled),
            _ => (NetPass::Forward(l as u32), blocked(layers[l].outputs)),
        };
        let training: Vec<&wgpu::Buffer> = step_buffers.iter().copied().chain(&buffers).collect();
        let last = layers.len() as u32 - 1;
        let mut step = vec![compile(
            NetPass::Batch,
            Threads::Linear(owners * n.div_ceil(4)),
            &training,
        )?];
        for l in 0..layers.len() {
            let (pass, threads) = forward(l, !per_chain);
            step.push(compile(pass, threads, &training)?);
        }
        step.push(compile(
            NetPass::Output,
            Threads::Linear(chains * n),
            &training,
        )?);
        for l in (1..=last).rev() {
            step.push(compile(
                NetPass::Backward(l),
                blocked(layers[l as usize].inputs),
                &training,
            )?);
        }
        // The first layer's weights as the tiled product where the batch is shared and a
        // unit's weights start a noise block (inputs divisible by 4): a workgroup per
        // NET_TILE_CHAINS chains × NET_TILE_UNITS units × NET_TILE_INPUTS inputs; the other
        // parameters' blocks after them.
        let first = &layers[0];
        let first_block = match tile_first_layer && !per_chain && first.inputs.is_multiple_of(4) {
            true => {
                step.push(compile(
                    NetPass::UpdateTiled,
                    tile_grid(first.inputs as u64, NET_TILE_INPUTS),
                    &training,
                )?);
                (first.weights + first.inputs * first.outputs) as u32 / 4
            }
            false => 0,
        };
        step.push(compile(
            NetPass::Update { first_block },
            Threads::ChainBlocks {
                chains,
                blocks: (network.dim() as u64).div_ceil(4) - u64::from(first_block),
            },
            &training,
        )?);
        let mut predict = Vec::new();
        if let Some(test) = test {
            let (test_words, test_bytes) = feature_words(gpu, "test", test)?;
            all.push(gpu.upload_buffer(
                "network test params",
                bytemuck::bytes_of(&params(test.rows(), true, test_bytes)),
                uniform,
            ));
            all.push(gpu.upload_buffer(
                "network test features",
                bytemuck::cast_slice(&test_words),
                read,
            ));
            all.push(gpu.upload_buffer(
                "network test labels",
                bytemuck::cast_slice(test.labels()),
                read,
            ));
            let testing: Vec<&wgpu::Buffer> = step_buffers
                .iter()
                .copied()
                .chain([&all[0], &buffers[1], &buffers[2], &all[1], &all[2]])
                .chain(&buffers[5..])
                .collect();
            // A test chunk is the same rows for every chain.
            for l in 0..layers.len() {
                let (pass, threads) = forward(l, true);
                predict.push(compile(pass, threads, &testing)?);
            }
            predict.push(compile(NetPass::Predict, Threads::Linear(n), &testing)?);
        }
        let mut kept = buffers;
        kept.extend(all);
        // The predictive sums, the last of the nine training buffers above, are read back at
        // the end of the run; the rest only need to live as long as the bind groups.
        let predictive = kept.swap_remove(PREDICTIVE_BUFFER);
        Ok(NetworkState {
            step,
            predict,
            chunks,
            chunk_stride,
            predictive,
            test_rows,
            first_layer_tiled: tile_first_layer,
            _buffers: kept,
        })
    }
}
