//! Every bad input is a typed error with a message a user can act on, raised before GPU work.

mod common;

use langevin::{Error, Gaussian, Gpu, Init, Sampler, Settings, StepSize, Tuning};

fn target() -> Gaussian {
    Gaussian::isotropic(3, 0.0, 1.0).expect("valid")
}

fn refused(settings: Settings) -> String {
    match Sampler::new(target(), settings) {
        Err(Error::InvalidSetting { name, reason }) => format!("{name}: {reason}"),
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

#[test]
fn step_sizes_that_are_not_positive_and_finite_are_refused() {
    for eta in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        let err = StepSize::constant(eta).expect_err("refused");
        assert!(err.to_string().contains("step size"), "{err}");
        assert!(err.to_string().contains("positive"), "{err}");
    }
}

#[test]
fn empty_runs_are_refused() {
    assert!(refused(Settings {
        chains: 0,
        ..Settings::default()
    })
    .contains("chains"));
    assert!(refused(Settings {
        steps: 0,
        ..Settings::default()
    })
    .contains("steps"));
    assert!(refused(Settings {
        thin: 0,
        ..Settings::default()
    })
    .contains("thin"));
    let message = refused(Settings {
        steps: 100,
        burn_in: 100,
        ..Settings::default()
    });
    assert!(message.contains("no draw would be kept"), "{message}");
    let message = refused(Settings {
        temperature: -1.0,
        ..Settings::default()
    });
    assert!(message.contains("temperature"), "{message}");
    let message = refused(Settings {
        init: Init::Normal { scale: f64::NAN },
        ..Settings::default()
    });
    assert!(message.contains("σ₀"), "{message}");
}

#[test]
fn targets_with_wrong_shapes_or_values_are_refused() {
    let message = Gaussian::diagonal(&[], &[])
        .expect_err("no dimensions")
        .to_string();
    assert!(message.contains("at least one dimension"), "{message}");
    let message = Gaussian::diagonal(&[0.0, 1.0], &[1.0])
        .expect_err("length")
        .to_string();
    assert!(
        message.contains("1 entries but the mean has 2"),
        "{message}"
    );
    let message = Gaussian::dense(&[0.0, 0.0], &[1.0, 0.0, 0.0])
        .expect_err("length")
        .to_string();
    assert!(message.contains("2×2"), "{message}");
    let message = Gaussian::dense(&[0.0; 2], &[1.0, 0.3, 0.2, 1.0])
        .expect_err("asym")
        .to_string();
    assert!(message.contains("not symmetric"), "{message}");
    let message = Gaussian::dense(&[0.0; 2], &[1.0, 3.0, 3.0, 1.0])
        .expect_err("indef")
        .to_string();
    assert!(message.contains("not positive definite"), "{message}");
    let message = Gaussian::diagonal(&[f64::NAN], &[1.0])
        .expect_err("nan")
        .to_string();
    assert!(message.contains("finite"), "{message}");
    let message = Gaussian::correlated(&[0.0; 3], &[1.0; 3], -0.9)
        .expect_err("corr")
        .to_string();
    assert!(message.contains("positive definite"), "{message}");
}

#[test]
fn non_finite_initial_positions_are_refused_with_their_place() {
    let mut positions = vec![0.5f32; 4 * 3];
    positions[2 * 3 + 1] = f32::NAN;
    let message = refused(Settings {
        chains: 4,
        init: Init::Positions(positions),
        ..Settings::default()
    });
    assert!(message.contains("chain 2 dimension 1"), "{message}");
    let message = refused(Settings {
        chains: 4,
        init: Init::Positions(vec![0.0; 5]),
        ..Settings::default()
    });
    assert!(message.contains("need 12"), "{message}");
}

/// 2²⁰ chains × 4096 dimensions: 16 GiB of state alone, in groups that each fit a binding,
/// and the statistics and draw buffers beside it; more than this machine's memory, which a
/// software adapter uses as device memory. Refused before anything is allocated.
#[test]
fn a_problem_beyond_the_device_memory_is_refused_before_any_work() {
    let gpu = common::gpu();
    let dim = 1usize << 12;
    let sampler = Sampler::builder(Gaussian::isotropic(dim, 0.0, 1.0).expect("valid"))
        .chains(1 << 20)
        .steps(2)
        .burn_in(1)
        .build()
        .expect("valid settings");
    match sampler.run(gpu) {
        Err(Error::DeviceMemory {
            needed, available, ..
        }) => {
            assert!(needed >= 4 * (1u64 << 20) * dim as u64 * 4, "{needed}");
            assert!(needed > available);
        }
        Err(Error::Gpu(message)) if !gpu.is_software() => {
            assert!(message.contains("GPU memory"), "{message}");
        }
        other => panic!("expected DeviceMemory, got {other:?}"),
    }
}

#[test]
fn an_unknown_adapter_name_lists_what_was_found() {
    let message = Gpu::new(Some("no-such-adapter-xyz"))
        .expect_err("unknown")
        .to_string();
    assert!(message.contains("no-such-adapter-xyz"), "{message}");
    assert!(
        message.contains(common::gpu().name()),
        "the message lists the adapters: {message}"
    );
}

#[test]
fn bad_tuning_is_refused() {
    let sampler = Sampler::new(target(), Settings::default()).expect("valid");
    let zero_steps = Tuning {
        max_steps_per_dispatch: 0,
        ..Tuning::default()
    };
    assert!(sampler.clone().with_tuning(zero_steps).is_err());
    let huge_group = Tuning {
        workgroup_size: Some(1 << 20),
        ..Tuning::default()
    };
    let sampler = sampler
        .with_tuning(huge_group)
        .expect("checked against the adapter at run");
    let message = sampler
        .run(common::gpu())
        .expect_err("too large")
        .to_string();
    assert!(message.contains("workgroup size"), "{message}");
}
