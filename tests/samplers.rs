//! The sampler family on the GPU: every rule against its CPU reference on every kernel shape,
//! and the statistical properties each rule's paper claims.

mod common;

use common::Twin;
use langevin::minibatch::Minibatch;
use langevin::model::Regression;
use langevin::sampler::Method;
use langevin::Gaussian;

fn rules() -> [Method; 4] {
    [
        Method::Sgld,
        Method::Psgld {
            decay: 0.9,
            epsilon: 1e-3,
        },
        Method::Sghmc {
            friction: 0.3,
            noise_estimate: 0.05,
        },
        Method::sgnht(1.5),
    ]
}

/// Every rule, at T = 0 (its optimiser: SGD, RMSprop, SGD with momentum, a thermostatted
/// momentum method) and at T = 1, on the three Gaussian kernel shapes (diagonal precision with
/// a thread per block of four; dense precision with a thread per chain; SGNHT's diagonal runs
/// per chain too) over several steps, so the rule's state carries from step to step.
#[test]
fn every_rule_matches_its_cpu_reference_on_gaussians() {
    let diagonal = Gaussian::diagonal(
        &[0.5, -1.0, 2.0, 0.0, 1.0, -0.5, 0.25],
        &[1.0, 4.0, 0.5, 2.0, 8.0, 1.5, 3.0],
    )
    .expect("valid");
    let dense = Gaussian::correlated(
        &[0.5, -1.0, 2.0, 0.0, 1.0],
        &[1.0, 0.5, 2.0, 1.0, 0.25],
        0.3,
    )
    .expect("valid");
    for target in [diagonal, dense] {
        for method in rules() {
            for temperature in [0.0, 1.0] {
                let twin = Twin {
                    method,
                    rows: 1,
                    batch: None,
                    eta: 0.02,
                    temperature,
                    steps: 6,
                };
                let cpu_target = target.clone();
                common::assert_rule_twin(target.clone(), &twin, move |theta, _, out| {
                    cpu_target.gradient(theta, out)
                });
            }
        }
    }
}

/// Every rule on a data model (logistic regression on a9a), with per-chain and shared
/// mini-batches: pSGLD's per-datum mean gradient is ∇Ũ/N.
#[test]
fn every_rule_matches_its_cpu_reference_on_data() {
    let model = Regression::logistic(common::a9a(), 1.0).expect("valid");
    let rows = model.data().rows() as u32;
    for method in rules() {
        for (per_chain, temperature) in [(true, 0.0), (false, 1.0)] {
            let twin = Twin {
                method,
                rows,
                batch: Some(Minibatch {
                    size: 20,
                    per_chain,
                    replacement: true,
                }),
                eta: 2e-5,
                temperature,
                steps: 4,
            };
            let cpu_model = model.clone();
            common::assert_rule_twin(model.clone(), &twin, move |theta, rows, out| {
                cpu_model.gradient(theta, rows, out)
            });
        }
    }
}
