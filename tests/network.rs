//! Networks on the device against their CPU twin: every output, activation and depth under
//! every batch law and rule, the test-set predictive summed on the device against the same
//! average of the read-back draws, and a linear-Gaussian network against its exact posterior.

mod common;

use common::{assert_cpu_twin, assert_rule_twin, batch, Twin};
use langevin::data::Dataset;
use langevin::model::{Activation, Network, NetworkSpec, Output, Prior};
use langevin::predictive::{Predictive, PredictiveMetrics};
use langevin::sampler::Method;
use langevin::{Init, Sampler, StepSize};

/// A small data set whose labels suit `output`: `rows` rows of 5 features in [−1, 1].
fn data(output: &Output, rows: usize, salt: u64) -> Dataset {
    data_with(output, rows, 5, salt)
}

/// [`data`] with `features` features.
fn data_with(output: &Output, rows: usize, features: usize, salt: u64) -> Dataset {
    let x: Vec<f32> = common::uniform(11 + salt, rows * features, -1.0, 1.0)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let labels = (0..rows)
        .map(|i| {
            let s: f32 = x[i * features..(i + 1) * features]
                .iter()
                .enumerate()
                .map(|(j, v)| v * (j as f32 - 2.0))
                .sum();
            match output {
                Output::Categorical { classes } => {
                    ((s + 4.0).max(0.0) as usize).min(classes - 1) as f32
                }
                Output::Bernoulli => f32::from(u8::from(s > 0.0)),
                Output::Gaussian { .. } => s,
            }
        })
        .collect();
    Dataset::from_dense(x, features, labels).expect("valid data")
}

fn network(output: Output, hidden: &[usize], activation: Activation, prior: Prior) -> Network {
    Network::new(
        data(&output, 40, 0),
        NetworkSpec {
            hidden: hidden.to_vec(),
            activation,
            output,
            prior,
        },
    )
    .expect("valid network")
}

const OUTPUTS: [Output; 3] = [
    Output::Categorical { classes: 4 },
    Output::Bernoulli,
    Output::Gaussian {
        noise_variance: 0.5,
    },
];

/// Every output × depth 0–2 × activation, under shared, per-chain (with and without
/// replacement) and full batches: T = 0 SGLD steps on the device equal the CPU twin's
/// backpropagation (tolerance in `common::assert_rule_twin`).
#[test]
fn gradients_match_the_cpu_twin_for_every_output_depth_and_batch() {
    for output in OUTPUTS {
        for (hidden, activation) in [
            (&[][..], Activation::Relu),
            (&[6][..], Activation::Tanh),
            (&[6, 3][..], Activation::Relu),
        ] {
            let net = network(output, hidden, activation, Prior::FanIn { scale: 2.0 });
            for law in [
                Some(batch(8, false, false)),
                Some(batch(8, true, false)),
                Some(batch(7, true, true)),
                None,
            ] {
                let twin = net.clone();
                assert_cpu_twin(net.clone(), 40, law, 1e-3, 4, move |theta, rows, out| {
                    twin.gradient(theta, rows, out)
                });
            }
        }
    }
}

/// pSGLD and SGHMC (and SGLD at T = 1) on a two-layer categorical network follow their CPU
/// rules with the noise each received (tolerance in `common::assert_rule_twin`).
#[test]
fn every_rule_steps_a_network_as_its_cpu_twin() {
    let net = network(
        Output::Categorical { classes: 3 },
        &[5],
        Activation::Tanh,
        Prior::Isotropic { variance: 1.0 },
    );
    for method in [
        Method::Sgld,
        Method::psgld(),
        Method::sghmc(0.5).expect("valid friction"),
    ] {
        let twin = net.clone();
        let run = Twin {
            method,
            rows: 40,
            batch: Some(batch(10, false, false)),
            eta: 1e-3,
            temperature: 1.0,
            steps: 5,
            gradient_noise: 0.0,
        };
        assert_rule_twin(net.clone(), &run, move |theta, rows, out| {
            twin.gradient(theta, rows, out)
        });
    }
}

/// A network's chains start from its fan-in scales unless told otherwise: layer l's weights
/// N(0, g/inputs_l) (g = 2 for ReLU, 1 for tanh) and biases at 0, from the init stream.
#[test]
fn networks_start_from_their_fan_in_scales() {
    for (activation, gain) in [(Activation::Relu, 2.0f32), (Activation::Tanh, 1.0)] {
        let net = network(
            Output::Categorical { classes: 4 },
            &[6, 3],
            activation,
            Prior::Isotropic { variance: 1.0 },
        );
        let scales = net.initial_scales();
        for layer in net.layers() {
            let sd = (gain / layer.inputs as f32).sqrt();
            assert!(scales[layer.weights..layer.biases]
                .iter()
                .all(|&s| (s - sd).abs() <= 1e-7 * sd));
            assert!(scales[layer.biases..layer.biases + layer.outputs]
                .iter()
                .all(|&s| s == 0.0));
        }
        let sampler = Sampler::builder(net.clone()).build().expect("valid");
        assert_eq!(sampler.settings().init, Init::PerCoordinate(scales));
        let given = Sampler::builder(net)
            .init(Init::Normal { scale: 0.5 })
            .build()
            .expect("valid");
        assert_eq!(given.settings().init, Init::Normal { scale: 0.5 });
    }
}

/// SGNHT and control variates are refused for networks with a message that says so, not run
/// wrongly.
#[test]
fn unsupported_combinations_are_refused() {
    let net = network(
        Output::Bernoulli,
        &[3],
        Activation::Relu,
        Prior::Isotropic { variance: 1.0 },
    );
    let err = Sampler::builder(net)
        .chains(4)
        .steps(10)
        .method(Method::sgnht(1.0).expect("valid diffusion"))
        .build()
        .expect_err("SGNHT on a network");
    assert!(err.to_string().contains("SGNHT"), "{err}");
}

/// The device's test-set predictive — summed over every kept draw of every chain without
/// reading a draw back — equals `Predictive::from_draws` on the draws read back, for a
/// categorical, a Bernoulli and a Gaussian network, chunks of the test set included (batch 7
/// over 30 test rows). Tolerance 1e-4: f32 sums of ≤ 6×16 probabilities on the device against
/// f64 on the host.
#[test]
fn the_device_predictive_equals_the_average_over_the_draws() {
    for output in OUTPUTS {
        let net = network(
            output,
            &[4],
            Activation::Tanh,
            Prior::Isotropic { variance: 1.0 },
        )
        .with_test_set(data(&output, 30, 1))
        .expect("test set");
        let test = net.test_set().expect("test set").clone();
        let sampler = Sampler::builder(net.clone())
            .chains(16)
            .steps(30)
            .burn_in(20)
            .thin(2)
            .step_size(StepSize::constant(1e-3).expect("valid"))
            .minibatch(batch(7, false, false))
            .seed(5)
            .build()
            .expect("valid");
        let (draws, report) = sampler
            .runner(common::gpu())
            .draws_and_report()
            .expect("run");
        let device = report.predictive.expect("a test set gives a predictive");
        let (kept, chains, _) = draws.shape();
        let thetas: Vec<Vec<f32>> = (0..kept)
            .flat_map(|s| (0..chains).map(move |c| (s, c)))
            .map(|(s, c)| (0..net.dim()).map(|d| draws.get(s, c, d)).collect())
            .collect();
        let refs: Vec<&[f32]> = thetas.iter().map(Vec::as_slice).collect();
        let host = Predictive::from_draws(&net, &test, &refs).expect("host predictive");
        assert_eq!(device.examples(), 30);
        for (i, (a, b)) in device.values().iter().zip(host.values()).enumerate() {
            assert!(
                (a - b).abs() < 1e-4 * b.abs().max(1.0),
                "{output:?} value {i}: {a} vs {b}"
            );
        }
        match (device.metrics(), host.metrics()) {
            (
                PredictiveMetrics::Classification {
                    test_nll: a,
                    test_mutual_information: ma,
                    test_draws: draws,
                    ..
                },
                PredictiveMetrics::Classification {
                    test_nll: b,
                    test_mutual_information: mb,
                    ..
                },
            ) => {
                assert_eq!(draws, 16.0 * 5.0);
                assert!(
                    (a - b).abs() < 1e-4 && (ma - mb).abs() < 1e-4,
                    "{a} {b} {ma} {mb}"
                );
            }
            (
                PredictiveMetrics::Regression {
                    test_nll: a,
                    test_rmse: ra,
                    ..
                },
                PredictiveMetrics::Regression {
                    test_nll: b,
                    test_rmse: rb,
                    ..
                },
            ) => assert!(
                (a - b).abs() < 1e-4 && (ra - rb).abs() < 1e-4,
                "{a} {b} {ra} {rb}"
            ),
            other => panic!("{output:?}: metrics of different kinds {other:?}"),
        }
    }
}

/// A network with no hidden layer and a Gaussian output is Bayesian linear regression, whose
/// posterior is exact: `Σ = (XᵀX/s² + I/σ²)⁻¹`, `μ = Σ Xᵀy/s²`. Full-batch SGLD at η = 10⁻³
/// over 512 chains × 500 kept draws must find each mean within 0.1 posterior sd and each
/// variance within 10%. Why: the precision's eigenvalues lie in ~[8, 45], so SGLD's
/// stationary variance is off by ηλ/2 ≤ 2.3% and 1000 burn-in steps are 8 relaxation times of
/// the slowest direction (1/(ηλ_min) ≈ 125 steps); the draws hold ~4000 effective samples,
/// so a variance carries ~2% Monte Carlo error and a mean ~0.02 sd. A wrong data scale or
/// prior term moves a variance by a factor, far outside.
#[test]
fn a_linear_gaussian_network_samples_its_exact_posterior() {
    let output = Output::Gaussian {
        noise_variance: 1.0,
    };
    let train = data(&output, 40, 3);
    let net = Network::new(
        train.clone(),
        NetworkSpec {
            hidden: vec![],
            activation: Activation::Relu,
            output,
            prior: Prior::Isotropic { variance: 1.0 },
        },
    )
    .expect("valid");
    // Design with the bias column last, as θ lays out W then b.
    let f = train.features();
    let dim = f + 1;
    let mut precision = vec![0.0f64; dim * dim];
    let mut xty = vec![0.0f64; dim];
    for row in 0..train.rows() {
        let mut x: Vec<f64> = train.dense_row(row).iter().map(|&v| f64::from(v)).collect();
        x.push(1.0);
        for a in 0..dim {
            xty[a] += x[a] * f64::from(train.labels()[row]);
            for b in 0..dim {
                precision[a * dim + b] += x[a] * x[b];
            }
        }
    }
    for a in 0..dim {
        precision[a * dim + a] += 1.0;
    }
    let covariance = invert(precision, dim);
    let mean: Vec<f64> = (0..dim)
        .map(|a| (0..dim).map(|b| covariance[a * dim + b] * xty[b]).sum())
        .collect();
    let draws = Sampler::builder(net)
        .chains(512)
        .steps(3000)
        .burn_in(1000)
        .thin(4)
        .step_size(StepSize::constant(1e-3).expect("valid"))
        .seed(17)
        .build()
        .expect("valid")
        .run(common::gpu())
        .expect("run");
    let (got_mean, got_cov) = common::pooled_moments(draws.values(), dim);
    for d in 0..dim {
        let sd = covariance[d * dim + d].sqrt();
        assert!(
            (got_mean[d] - mean[d]).abs() < 0.1 * sd,
            "mean {d}: {} vs {}",
            got_mean[d],
            mean[d]
        );
        let ratio = got_cov[d * dim + d] / covariance[d * dim + d];
        assert!((ratio - 1.0).abs() < 0.1, "variance {d}: ratio {ratio}");
    }
}

/// The inverse of a small well-conditioned matrix by Gauss–Jordan elimination with partial
/// pivoting (f64; the test's 6×6 precision has condition number ~10).
fn invert(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let mut inverse: Vec<f64> = (0..n * n)
        .map(|i| f64::from(u8::from(i % (n + 1) == 0)))
        .collect();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&x, &y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs()))
            .expect("rows remain");
        for k in 0..n {
            a.swap(col * n + k, pivot * n + k);
            inverse.swap(col * n + k, pivot * n + k);
        }
        let scale = a[col * n + col];
        for k in 0..n {
            a[col * n + k] /= scale;
            inverse[col * n + k] /= scale;
        }
        for row in (0..n).filter(|&r| r != col) {
            let factor = a[row * n + col];
            for k in 0..n {
                a[row * n + k] -= factor * a[col * n + k];
                inverse[row * n + k] -= factor * inverse[col * n + k];
            }
        }
    }
    inverse
}

/// Features that are all k · (1/255) (images) travel to the device packed four to a word and
/// decode to the same values: the CPU twin on the unpacked values agrees, with 7 features per
/// row (read one at a time) and 8 (a multiple of 4: the first layer's passes read a word for
/// four inputs).
#[test]
fn byte_features_decode_to_the_same_values() {
    let output = Output::Categorical { classes: 3 };
    let rows = 30;
    for features in [7, 8] {
        let x: Vec<f32> = (0..rows * features)
            .map(|i| ((i * 53 + 11) % 256) as f32 * (1.0 / 255.0))
            .collect();
        let labels = (0..rows).map(|i| (i % 3) as f32).collect();
        let data = Dataset::from_dense(x, features, labels).expect("valid data");
        let net = Network::new(
            data,
            NetworkSpec {
                hidden: vec![5],
                activation: Activation::Relu,
                output,
                prior: Prior::Isotropic { variance: 1.0 },
            },
        )
        .expect("valid network");
        let twin = net.clone();
        assert_cpu_twin(
            net,
            rows as u32,
            Some(batch(6, true, false)),
            1e-3,
            4,
            move |theta, rows, out| twin.gradient(theta, rows, out),
        );
    }
}

/// Schedules and ladders run a network: the predictive averages only the chains at T = 1 of
/// a ladder (4 of 16 chains with 4 rungs) over the kept draws, and a cyclical schedule's
/// exploring steps keep no draw, so they add none to the predictive.
#[test]
fn ladders_and_schedules_feed_the_predictive_only_posterior_draws() {
    use langevin::sampler::TemperatureLadder;
    use langevin::schedule::TemperatureSchedule;
    let output = Output::Categorical { classes: 3 };
    let net = network(
        output,
        &[4],
        Activation::Relu,
        Prior::Isotropic { variance: 1.0 },
    )
    .with_test_set(data(&output, 12, 2))
    .expect("test set");
    let run = |builder: langevin::sampler::SamplerBuilder| {
        let (_, report) = builder
            .seed(9)
            .minibatch(batch(8, false, false))
            .build()
            .expect("valid")
            .runner(common::gpu())
            .draws_and_report()
            .expect("run");
        match report.predictive.expect("predictive").metrics() {
            PredictiveMetrics::Classification {
                test_draws,
                test_nll,
                ..
            } => {
                assert!(test_nll.is_finite());
                test_draws
            }
            other => panic!("classification expected, got {other:?}"),
        }
    };
    let ladder = Sampler::builder(net.clone())
        .chains(16)
        .steps(20)
        .burn_in(10)
        .step_size(StepSize::constant(1e-3).expect("valid"))
        .temperature_ladder(TemperatureLadder::new(1.0, 8.0, 4).expect("valid"));
    assert_eq!(
        run(ladder),
        4.0 * 10.0,
        "the T = 1 rung's 4 chains × 10 kept draws"
    );
    let cyclical = Sampler::builder(net.clone())
        .chains(4)
        .steps(40)
        .burn_in(0)
        .step_size(StepSize::cyclical(1e-3, 2, 40, 0.5).expect("valid"));
    assert_eq!(
        run(cyclical),
        4.0 * 20.0,
        "half of each cycle explores and keeps nothing"
    );
    let annealed = Sampler::builder(net)
        .chains(4)
        .steps(20)
        .burn_in(10)
        .step_size(StepSize::constant(1e-3).expect("valid"))
        .temperature_schedule(TemperatureSchedule::anneal(5.0, 1.0, 10).expect("valid"));
    assert_eq!(run(annealed), 4.0 * 10.0);
}

/// The first layer's tiled products (`DataPath::Tiled`) add each sum's terms in the blocked
/// passes' order, so the draws and the device's test-set predictive are bit-identical to
/// `DataPath::Global`'s. The forward (64 chains × 4 units × 32 examples per workgroup, inputs
/// 8 at a time) runs on every case; the weights' gradient (64 chains × 4 units × 32 inputs,
/// examples 8 at a time) where the inputs are divisible by 4 (12 and 36 here, not 5). Every
/// tile is partial somewhere: 70 chains (two chain tiles, a partial group of four), 5, 12 or
/// 36 inputs, 6, 7 or 9 units, a batch of 37 (two example tiles, a partial slice), a test set
/// of 30 in chunks of 37; with a hidden layer of each activation, and with none (the first
/// layer is then the output, kept as z).
#[test]
fn the_tiled_first_layer_gives_the_blocked_passes_draws() {
    use langevin::sampler::{DataPath, Tuning};
    let cases = [
        (
            Output::Categorical { classes: 4 },
            &[6][..],
            Activation::Relu,
            5,
        ),
        (Output::Bernoulli, &[9, 3][..], Activation::Tanh, 12),
        (
            Output::Categorical { classes: 6 },
            &[][..],
            Activation::Relu,
            36,
        ),
        (
            Output::Gaussian {
                noise_variance: 0.5,
            },
            &[7][..],
            Activation::Relu,
            12,
        ),
    ];
    for (output, hidden, activation, features) in cases {
        let spec = NetworkSpec {
            hidden: hidden.to_vec(),
            activation,
            output,
            prior: Prior::Isotropic { variance: 1.0 },
        };
        let net = Network::new(data_with(&output, 40, features, 0), spec)
            .expect("valid network")
            .with_test_set(data_with(&output, 30, features, 1))
            .expect("test set");
        let run = |path: DataPath| {
            let sampler = Sampler::builder(net.clone())
                .chains(70)
                .steps(12)
                .burn_in(8)
                .thin(2)
                .step_size(StepSize::constant(1e-3).expect("valid"))
                .minibatch(batch(37, false, false))
                .tuning(Tuning {
                    data_path: path,
                    ..Tuning::default()
                })
                .seed(9)
                .build()
                .expect("valid");
            let (draws, report) = sampler
                .runner(common::gpu())
                .draws_and_report()
                .expect("run");
            let predictive = report.predictive.expect("a test set gives a predictive");
            (draws.values().to_vec(), predictive.values().to_vec())
        };
        let (blocked, tiled) = (run(DataPath::Global), run(DataPath::Tiled));
        // The first value whose bits differ, if any (printing both vectors would bury it).
        let first_difference = |a: Vec<u64>, b: Vec<u64>| {
            assert_eq!(a.len(), b.len());
            a.iter().zip(&b).position(|(x, y)| x != y)
        };
        let bits = |v: &[f32]| v.iter().map(|x| u64::from(x.to_bits())).collect::<Vec<_>>();
        let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let case = format!("{output:?} {hidden:?}, {features} inputs");
        let draws = first_difference(bits(&tiled.0), bits(&blocked.0));
        assert_eq!(
            draws, None,
            "{case}: the draws differ first at value {draws:?}"
        );
        let predictive = first_difference(bits64(&tiled.1), bits64(&blocked.1));
        assert_eq!(
            predictive, None,
            "{case}: the predictive differs at {predictive:?}"
        );
    }
}

/// The tiled first layer multiplies rows every chain shares, so it refuses per-chain batches;
/// the paths written for GLMs are refused for networks. Each message says what to use.
#[test]
fn networks_refuse_the_paths_they_cannot_run() {
    use langevin::sampler::{DataPath, Tuning};
    let net = network(
        Output::Bernoulli,
        &[3],
        Activation::Relu,
        Prior::Isotropic { variance: 1.0 },
    );
    let error = |path: DataPath, per_chain: bool| {
        Sampler::builder(net.clone())
            .chains(4)
            .steps(4)
            .minibatch(batch(8, per_chain, true))
            .tuning(Tuning {
                data_path: path,
                ..Tuning::default()
            })
            .build()
            .expect("valid settings")
            .run(common::gpu())
            .expect_err("refused")
            .to_string()
    };
    let message = error(DataPath::Tiled, true);
    assert!(message.contains("per-chain mini-batches"), "{message}");
    for path in [DataPath::Staged, DataPath::Fused, DataPath::Register] {
        let message = error(path, false);
        assert!(
            message.contains("a network runs Auto, Global or Tiled"),
            "{path:?}: {message}"
        );
    }
}
