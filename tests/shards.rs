//! Sharding and chain groups: every random number is keyed by the run-wide chain id, so the
//! union of a run's shards, and a run cut into groups of chains, are bit-identical to the run
//! done in one piece. Merging refuses shards that do not make up one run.

mod common;

use std::path::{Path, PathBuf};

use langevin::minibatch::Minibatch;
use langevin::sampler::{Method, TemperatureLadder};
use langevin::shard::Shard;
use langevin::{Draws, Gaussian, Init, Sampler, StepSize, Tuning};

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Chains `range` of `draws`, `[draw][chain][dim]`.
fn chains_of(draws: &Draws, range: std::ops::Range<usize>) -> Vec<f32> {
    let (kept, _, dim) = draws.shape();
    (0..kept)
        .flat_map(|i| {
            range
                .clone()
                .flat_map(move |c| (0..dim).map(move |d| (i, c, d)))
        })
        .map(|(i, c, d)| draws.get(i, c, d))
        .collect()
}

/// SGHMC with gradient noise under a temperature ladder on a Gaussian: the noise streams, the
/// momentum and the per-chain temperatures all depend on the chain id.
fn gaussian_run() -> langevin::sampler::SamplerBuilder {
    Sampler::builder(Gaussian::isotropic(5, 0.3, 0.5).expect("valid"))
        .chains(37)
        .steps(120)
        .burn_in(20)
        .thin(4)
        .step_size(StepSize::constant(0.02).expect("valid"))
        .method(Method::sghmc(0.2).expect("valid"))
        .gradient_noise(0.3)
        .temperature_ladder(TemperatureLadder::new(1.0, 4.0, 3).expect("valid"))
}

/// Logistic regression on a9a with a mini-batch per chain (its owner is the chain id).
fn data_run() -> langevin::sampler::SamplerBuilder {
    let model = langevin::model::Regression::logistic(common::a9a(), 1.0).expect("valid");
    Sampler::builder(model)
        .chains(20)
        .steps(40)
        .burn_in(10)
        .thin(5)
        .step_size(StepSize::constant(5e-5).expect("valid"))
        .minibatch(
            Minibatch::per_chain(16)
                .expect("valid")
                .without_replacement(),
        )
}

#[test]
fn the_union_of_shards_is_the_whole_run_bit_for_bit() {
    let gpu = common::gpu();
    for builder in [gaussian_run(), data_run()] {
        let whole = common::run(builder.clone());
        let total = whole.shape().1 as u32;
        for index in 0..3 {
            let shard = Shard::new(index, 3).expect("valid");
            let part = builder
                .clone()
                .shard(shard)
                .build()
                .expect("valid")
                .run(gpu)
                .expect("run");
            let range = shard.chains(total);
            assert_eq!(part.shape().1, range.len());
            assert!(
                same_bits(
                    part.values(),
                    &chains_of(&whole, range.start as usize..range.end as usize)
                ),
                "shard {index}/3 differs from its chains in the whole run"
            );
            if let Some(temperatures) = whole.chain_temperatures() {
                assert_eq!(
                    part.chain_temperatures().expect("a ladder"),
                    &temperatures[range.start as usize..range.end as usize]
                );
            }
        }
    }
}

#[test]
fn chains_split_into_groups_draw_exactly_what_one_group_draws() {
    let gpu = common::gpu();
    // SGNHT keeps a thermostat per chain after the per-coordinate state; given positions
    // must land in the right group.
    let positions: Vec<f32> = (0..37 * 5).map(|i| (i % 11) as f32 * 0.1 - 0.5).collect();
    let builder = gaussian_run()
        .method(Method::sgnht(1.0).expect("valid"))
        .init(Init::Positions(positions));
    let whole = common::run(builder.clone());
    for cap in [7, 36] {
        let (grouped, report) = builder
            .clone()
            .tuning(Tuning {
                max_chains_per_group: Some(cap),
                ..Tuning::default()
            })
            .build()
            .expect("valid")
            .runner(gpu)
            .draws_and_report()
            .expect("run");
        assert!(
            same_bits(grouped.values(), whole.values()),
            "groups of {cap} differ from one group"
        );
        // The cap did its work: 37 chains in ⌈37/cap⌉ groups of at most `cap`, in order.
        let ranges: Vec<std::ops::Range<u32>> =
            report.groups.iter().map(|g| g.chains.clone()).collect();
        let want: Vec<std::ops::Range<u32>> = (0..37)
            .step_by(cap as usize)
            .map(|c| c..(c + cap).min(37))
            .collect();
        assert_eq!(ranges, want);
    }
    let data = data_run().build().expect("valid").run(gpu).expect("run");
    let grouped = data_run()
        .tuning(Tuning {
            max_chains_per_group: Some(6),
            ..Tuning::default()
        })
        .build()
        .expect("valid")
        .run(gpu)
        .expect("run");
    assert!(same_bits(grouped.values(), data.values()));
}

use common::{langevin, scratch};

fn sample(out: &Path, seed: &str, shard: Option<&str>) -> std::process::Output {
    let mut args = vec![
        "sample",
        "--model",
        "gaussian",
        "--dim",
        "3",
        "--chains",
        "50",
        "--steps",
        "300",
        "--burn-in",
        "100",
        "--thin",
        "10",
        "--quiet",
        "--seed",
        seed,
        "--out",
    ];
    let out = out.to_str().expect("utf-8");
    args.push(out);
    if let Some(shard) = shard {
        args.extend(["--shard", shard]);
    }
    langevin(&args)
}

#[test]
fn langevin_merge_joins_shards_and_refuses_what_is_not_one_run() {
    let dir = scratch("merge");
    let whole = dir.join("whole.npy");
    assert!(sample(&whole, "5", None).status.success());
    let shards: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("shard{i}.npy"))).collect();
    for (i, path) in shards.iter().enumerate() {
        let output = sample(path, "5", Some(&format!("{i}/3")));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(langevin::shard::manifest_path(path).exists());
    }
    let merged = dir.join("merged.npy");
    let names: Vec<&str> = shards
        .iter()
        .rev()
        .map(|p| p.to_str().expect("utf-8"))
        .collect();
    let mut args = vec!["merge", "--out", merged.to_str().expect("utf-8")];
    args.extend(&names);
    let output = langevin(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |p: &Path| {
        let bytes = std::fs::read(p).expect("read");
        let npy = npyz::NpyFile::new(&bytes[..]).expect("npy");
        (npy.shape().to_vec(), npy.into_vec::<f32>().expect("f32"))
    };
    let (shape, values) = read(&merged);
    let (whole_shape, whole_values) = read(&whole);
    assert_eq!(shape, whole_shape);
    assert!(same_bits(&values, &whole_values));

    // A missing shard, a shard of another run, and a bad shard spec.
    let refused = |args: &[&str], says: &str| {
        let output = langevin(args);
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!output.status.success() && text.contains(says), "{text}");
    };
    let out = dir.join("refused.npy");
    let out_name = out.to_str().expect("utf-8");
    refused(
        &["merge", "--out", out_name, names[0], names[1]],
        "exactly once",
    );
    let other = dir.join("other.npy");
    assert!(sample(&other, "6", Some("1/3")).status.success());
    refused(
        &[
            "merge",
            "--out",
            out_name,
            names[2],
            other.to_str().expect("utf-8"),
            names[0],
        ],
        "another run",
    );
    assert!(!out.exists(), "a refused merge wrote its output");
    let bad = sample(&dir.join("bad.npy"), "5", Some("3/2"));
    let text = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert!(
        !bad.status.success() && text.contains("0 ≤ i < n"),
        "{text}"
    );
}

/// A state larger than one storage binding runs in groups without being asked, and its last
/// shard's chains draw what that shard alone (small enough for one group) draws.
#[test]
fn a_state_larger_than_one_binding_is_split_into_groups_transparently() {
    let gpu = common::gpu();
    let limits = gpu.limits();
    let binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let dim = 64u64;
    let chains = (binding / (4 * dim)) * 3 / 2;
    let builder = Sampler::builder(Gaussian::isotropic(dim as usize, 0.0, 1.0).expect("valid"))
        .chains(chains as u32)
        .steps(2)
        .burn_in(1)
        .thin(1)
        .step_size(StepSize::constant(0.1).expect("valid"));
    let whole = common::run(builder.clone());
    assert_eq!(whole.shape(), (1, chains as usize, dim as usize));
    let shard = Shard::new(7, 8).expect("valid");
    let part = builder
        .shard(shard)
        .build()
        .expect("valid")
        .run(gpu)
        .expect("run");
    let range = shard.chains(chains as u32);
    assert!(same_bits(
        part.values(),
        &chains_of(&whole, range.start as usize..range.end as usize)
    ));
}

/// Two devices in one process share the chains (here two devices opened on the same adapter,
/// which is what a machine without two GPUs allows): the draws and the running statistics are
/// those of one device.
#[test]
fn two_devices_in_one_process_split_the_chains_and_draw_the_same() {
    let gpu = common::gpu();
    let second = langevin::Gpu::new(Some(gpu.name())).expect("a second device");
    let sampler = gaussian_run().build().expect("valid");
    let (one, one_report) = sampler.runner(gpu).draws_and_report().expect("run");
    let (two, two_report) = sampler
        .runner(gpu)
        .split_across(&[&second])
        .draws_and_report()
        .expect("run");
    assert!(same_bits(two.values(), one.values()));
    assert_eq!(two.chain_temperatures(), one.chain_temperatures());
    assert_eq!(two_report.statistics, one_report.statistics);
    // The second device did half the work: its group holds the second half of the chains.
    let chains = sampler.settings().chains;
    let layout: Vec<(usize, std::ops::Range<u32>)> = two_report
        .groups
        .iter()
        .map(|g| (g.device, g.chains.clone()))
        .collect();
    assert_eq!(layout, vec![(0, 0..chains / 2), (1, chains / 2..chains)]);
    assert_eq!(one_report.groups.len(), 1);
}
