//! The update rules a run can use, their constants and validation, and the CPU reference step
//! that dispatches to each rule's own module.

use crate::error::{Error, Result};
use crate::gpu::contract::{RULE_PSGLD, RULE_SGHMC, RULE_SGLD, RULE_SGNHT};
use crate::rng::{self, Stream};

use super::sgld::StepScalars;
use super::{psgld, sghmc, sgnht};

/// The update rule (`--sampler`). Every rule runs fused on the GPU; its equation and CPU
/// reference live in its own module: [`super::sgld`], [`psgld`], [`sghmc`], [`sgnht`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Method {
    /// Stochastic gradient Langevin dynamics (Welling & Teh 2011).
    #[default]
    Sgld,
    /// Preconditioned SGLD with an RMSprop preconditioner (Li et al. 2016), without the Γ
    /// correction term (see [`psgld`]). Made by [`Method::psgld`] or [`Method::psgld_with`].
    #[non_exhaustive]
    Psgld {
        /// `α ∈ [0, 1)`: decay of the running mean square `V` (paper: 0.99).
        decay: f64,
        /// `λ > 0`: added to `sqrt(V)` before inverting (paper: 10⁻⁵).
        epsilon: f64,
    },
    /// Stochastic gradient Hamiltonian Monte Carlo in its practical form (Chen et al. 2014).
    /// Made by [`Method::sghmc`] or [`Method::sghmc_with`].
    #[non_exhaustive]
    Sghmc {
        /// Friction `α ∈ [0, 1]`, one minus the momentum decay. `α = 0` with `β̂ = 0` is
        /// Chen et al.'s naive stochastic-gradient HMC: nothing removes the energy the gradient
        /// noise adds.
        friction: f64,
        /// `β̂ ∈ [0, α]`: the estimated gradient-noise term, subtracted from the injected noise.
        noise_estimate: f64,
    },
    /// Stochastic gradient Nosé–Hoover thermostat (Ding et al. 2014). Made by
    /// [`Method::sgnht`].
    #[non_exhaustive]
    Sgnht {
        /// Diffusion `A > 0` of the injected noise; the thermostat starts at `ζ = A`.
        diffusion: f64,
    },
}

impl Method {
    /// pSGLD with the paper's constants `α = 0.99`, `λ = 10⁻⁵`.
    pub fn psgld() -> Method {
        Method::Psgld {
            decay: 0.99,
            epsilon: 1e-5,
        }
    }

    /// pSGLD with decay `α ∈ [0, 1)` and `λ > 0`; an error outside those ranges.
    pub fn psgld_with(decay: f64, epsilon: f64) -> Result<Method> {
        let method = Method::Psgld { decay, epsilon };
        method.validate()?;
        Ok(method)
    }

    /// SGHMC with friction `α ∈ [0, 1]` and no noise estimate; an error outside it.
    pub fn sghmc(friction: f64) -> Result<Method> {
        Method::sghmc_with(friction, 0.0)
    }

    /// SGHMC with friction `α ∈ [0, 1]` and gradient-noise estimate `β̂ ∈ [0, α]`.
    pub fn sghmc_with(friction: f64, noise_estimate: f64) -> Result<Method> {
        let method = Method::Sghmc {
            friction,
            noise_estimate,
        };
        method.validate()?;
        Ok(method)
    }

    /// SGNHT with diffusion `A > 0`; an error otherwise.
    pub fn sgnht(diffusion: f64) -> Result<Method> {
        let method = Method::Sgnht { diffusion };
        method.validate()?;
        Ok(method)
    }

    /// The rule's name as the CLI spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Sgld => "sgld",
            Method::Psgld { .. } => "psgld",
            Method::Sghmc { .. } => "sghmc",
            Method::Sgnht { .. } => "sgnht",
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let finite = |name: &'static str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(name, format!("{v} must be finite")))
            }
        };
        match *self {
            Method::Sgld => Ok(()),
            Method::Psgld { decay, epsilon } => {
                finite("pSGLD decay α", decay)?;
                finite("pSGLD λ", epsilon)?;
                if !(0.0..1.0).contains(&decay) {
                    return Err(Error::invalid(
                        "pSGLD decay α",
                        format!("{decay} must lie in [0, 1) (the paper uses 0.99)"),
                    ));
                }
                if epsilon <= 0.0 {
                    return Err(Error::invalid(
                        "pSGLD λ",
                        format!("{epsilon} must be > 0: it keeps 1/(λ + sqrt(V)) finite"),
                    ));
                }
                Ok(())
            }
            Method::Sghmc {
                friction,
                noise_estimate,
            } => {
                finite("SGHMC friction", friction)?;
                finite("SGHMC noise estimate", noise_estimate)?;
                if !(0.0..=1.0).contains(&friction) {
                    return Err(Error::invalid(
                        "SGHMC friction",
                        format!(
                            "α = {friction} must lie in [0, 1]: it is one minus the momentum \
                             decay (Chen et al.'s ε·C)"
                        ),
                    ));
                }
                if !(0.0..=friction).contains(&noise_estimate) {
                    return Err(Error::invalid(
                        "SGHMC noise estimate",
                        format!(
                            "β̂ = {noise_estimate} must lie in [0, α = {friction}]: the injected \
                             noise has variance 2(α − β̂)η"
                        ),
                    ));
                }
                Ok(())
            }
            Method::Sgnht { diffusion } => {
                finite("SGNHT diffusion", diffusion)?;
                if diffusion <= 0.0 {
                    return Err(Error::invalid(
                        "SGNHT diffusion",
                        format!("A = {diffusion} must be > 0"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The factor `c` in the injected noise's scale `sqrt(2 c η_t T)`: 1 for SGLD and pSGLD,
    /// `α − β̂` for SGHMC, `A` for SGNHT.
    pub fn noise_factor(&self) -> f64 {
        match *self {
            Method::Sgld | Method::Psgld { .. } => 1.0,
            Method::Sghmc {
                friction,
                noise_estimate,
            } => friction - noise_estimate,
            Method::Sgnht { diffusion } => diffusion,
        }
    }

    /// The rule's number in the kernels (`METHOD`; `gpu::contract`).
    pub(crate) fn code(&self) -> u32 {
        match self {
            Method::Sgld => RULE_SGLD,
            Method::Psgld { .. } => RULE_PSGLD,
            Method::Sghmc { .. } => RULE_SGHMC,
            Method::Sgnht { .. } => RULE_SGNHT,
        }
    }

    /// The two constants the kernels read (`RunParams::method_a`, `method_b`).
    pub(crate) fn constants(&self) -> [f32; 2] {
        match *self {
            Method::Sgld => [0.0, 0.0],
            Method::Psgld { decay, epsilon } => [decay as f32, epsilon as f32],
            Method::Sghmc { friction, .. } => [friction as f32, 0.0],
            Method::Sgnht { diffusion } => [diffusion as f32, 0.0],
        }
    }

    /// Whether the rule keeps a per-coordinate auxiliary state (`V` or the momentum).
    pub(crate) fn has_auxiliary(&self) -> bool {
        !matches!(self, Method::Sgld)
    }
}

/// One chain's state beyond θ: the per-coordinate auxiliary (pSGLD's `V`, SGHMC's and SGNHT's
/// momentum `v`, all zero at the start) and SGNHT's thermostat `ζ` (starts at `A`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuxiliaryState {
    /// `V` or `v`, one per coordinate; empty for SGLD.
    pub per_coordinate: Vec<f32>,
    /// `ζ` for SGNHT, else unused.
    pub thermostat: f32,
}

impl AuxiliaryState {
    /// The state every chain starts from.
    pub fn initial(method: &Method, dim: usize) -> AuxiliaryState {
        AuxiliaryState {
            per_coordinate: if method.has_auxiliary() {
                vec![0.0; dim]
            } else {
                Vec::new()
            },
            thermostat: match *method {
                Method::Sgnht { diffusion } => diffusion as f32,
                _ => 0.0,
            },
        }
    }
}

/// What the reference step needs besides the state: the rule, the step's scalars, the
/// gradient scale `1/N` (pSGLD's per-datum mean) and the counter of the step's noise.
#[derive(Debug, Clone, Copy)]
pub struct StepContext {
    /// The update rule.
    pub method: Method,
    /// `η_t`, `sqrt(2 c η_t T)` and `T` for the step.
    pub scalars: StepScalars,
    /// `1/N` for a data model with `N` examples, 1 for a target without data.
    pub per_datum: f32,
    /// The run's seed.
    pub seed: u64,
    /// The chain's index.
    pub chain: u32,
    /// The step's index.
    pub step: u32,
    /// σ of the synthetic gradient noise (`Settings::gradient_noise`), 0 for none.
    pub gradient_noise: f32,
}

impl StepContext {
    /// The normals `ξ` of block `block` of this step, or zeros when the step injects no noise.
    pub(crate) fn noise(&self, block: usize) -> [f32; 4] {
        if self.scalars.noise_scale > 0.0 {
            rng::normals(
                rng::key_for_seed(self.seed),
                self.chain,
                self.step,
                block as u32,
                Stream::Noise,
            )
        } else {
            [0.0; 4]
        }
    }
}

/// Calls `update(θ_d, state_d, g_d, ξ_d)` for every coordinate in order, the step's normals
/// drawn once per block of four (zeros when the step injects no noise): the loop every
/// per-coordinate rule's reference shares.
pub(crate) fn for_each_coordinate(
    theta: &mut [f32],
    state: &mut [f32],
    gradient: &[f32],
    context: &StepContext,
    mut update: impl FnMut(&mut f32, &mut f32, f32, f32),
) {
    for (block, ((coords, states), grads)) in theta
        .chunks_mut(4)
        .zip(state.chunks_mut(4))
        .zip(gradient.chunks(4))
        .enumerate()
    {
        let noise = context.noise(block);
        for (lane, ((x, v), g)) in coords.iter_mut().zip(states).zip(grads).enumerate() {
            update(x, v, *g, noise[lane]);
        }
    }
}

/// One step of any rule on the CPU, given `∇Ũ(θ)` at the current state: the twin of
/// `shaders/rules.wgsl` and `move_chain.wgsl`, in f32 with the kernels' order of operations.
/// Synthetic gradient noise, if any, is added first: `g_d ← fma(σ, ξ'_d, g_d)` with `ξ'` from
/// the stream `GradientNoise`.
pub fn reference_move(
    theta: &mut [f32],
    auxiliary: &mut AuxiliaryState,
    gradient: &[f32],
    context: &StepContext,
) {
    let noisy: Vec<f32>;
    let gradient = if context.gradient_noise > 0.0 {
        let key = rng::key_for_seed(context.seed);
        noisy = gradient
            .chunks(4)
            .enumerate()
            .flat_map(|(block, g)| {
                let z = rng::normals(
                    key,
                    context.chain,
                    context.step,
                    block as u32,
                    Stream::GradientNoise,
                );
                g.iter()
                    .zip(z)
                    .map(|(g, z)| context.gradient_noise.mul_add(z, *g))
                    .collect::<Vec<f32>>()
            })
            .collect();
        &noisy[..]
    } else {
        gradient
    };
    match context.method {
        Method::Sgld => super::sgld::reference_step(
            theta,
            gradient,
            context.scalars,
            context.seed,
            context.chain,
            context.step,
        ),
        Method::Psgld { decay, epsilon } => psgld::reference_step(
            theta,
            &mut auxiliary.per_coordinate,
            gradient,
            [decay as f32, epsilon as f32],
            context,
        ),
        Method::Sghmc { friction, .. } => sghmc::reference_step(
            theta,
            &mut auxiliary.per_coordinate,
            gradient,
            friction as f32,
            context,
        ),
        Method::Sgnht { .. } => sgnht::reference_step(
            theta,
            &mut auxiliary.per_coordinate,
            &mut auxiliary.thermostat,
            gradient,
            context,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_constants_are_refused_with_the_valid_range() {
        for (method, words) in [
            (
                Method::Psgld {
                    decay: 1.0,
                    epsilon: 1e-5,
                },
                "[0, 1)",
            ),
            (
                Method::Psgld {
                    decay: 0.9,
                    epsilon: 0.0,
                },
                "> 0",
            ),
            (
                Method::Sghmc {
                    friction: -0.1,
                    noise_estimate: 0.0,
                },
                "[0, 1]",
            ),
            (
                Method::Sghmc {
                    friction: 1.5,
                    noise_estimate: 0.0,
                },
                "[0, 1]",
            ),
            (
                Method::Sghmc {
                    friction: 0.3,
                    noise_estimate: 0.4,
                },
                "[0, α",
            ),
            (Method::Sgnht { diffusion: -1.0 }, "> 0"),
            (
                Method::Sgnht {
                    diffusion: f64::NAN,
                },
                "finite",
            ),
        ] {
            let error = method.validate().expect_err("refused");
            assert!(error.to_string().contains(words), "{method:?}: {error}");
        }
        for method in [
            Method::Sgld,
            Method::psgld(),
            Method::sghmc(0.3).expect("valid"),
            Method::sgnht(1.0).expect("valid"),
        ] {
            method.validate().expect("valid");
        }
        assert!(Method::sghmc(1.5).is_err() && Method::sgnht(0.0).is_err());
        assert!(Method::psgld_with(1.0, 1e-5).is_err());
    }
}
