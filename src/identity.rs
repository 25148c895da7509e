//! A run's identity: what it computes, told apart from every other run, from its target and
//! settings alone — a fingerprint for checkpoints and shard manifests, the settings one by one
//! for messages that name what differs, and a description in words.

use crate::model::Target;
use crate::sampler::settings::{Init, Settings};

/// FNV-1a, 64 bits, of the bytes of `chunks` one after another: a checksum against
/// truncation and corruption (not against tampering).
pub(crate) fn fnv1a<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    chunks
        .into_iter()
        .flatten()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

/// What a run computes, told apart from every other run: a fingerprint of its target and
/// settings (not its tuning, which never changes a draw), the settings one by one, and a
/// description for messages. Computed once per run: the target's description holds its whole
/// data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunIdentity {
    pub(crate) description: String,
    pub(crate) fingerprint: String,
    pub(crate) settings: Vec<(String, String)>,
}

impl RunIdentity {
    pub(crate) fn of(target: &Target, settings: &Settings) -> RunIdentity {
        let dim = target.dim();
        let target = format!("{target:?}");
        // A run without a preconditioner hashes the text earlier versions hashed, so their
        // checkpoints and shards still resume and merge.
        let full = format!("{target}\n{settings:?}").replace(", preconditioner: None", "");
        let s = settings;
        let text = |v: &dyn std::fmt::Debug| format!("{v:?}");
        let init = match &s.init {
            Init::Positions(p) | Init::Point(p) => format!(
                "given positions (checksum {:016x})",
                fnv1a([bytemuck::cast_slice::<f32, u8>(p)])
            ),
            Init::PerCoordinate(scales) => format!(
                "N(0, s²) with given scales per coordinate (checksum {:016x})",
                fnv1a([bytemuck::cast_slice::<f32, u8>(scales)])
            ),
            other => text(other),
        };
        let settings = [
            ("dimensions", dim.to_string()),
            (
                "model and data",
                format!("checksum {:016x}", fnv1a([target.as_bytes()])),
            ),
            ("chains", s.chains.to_string()),
            ("steps", s.steps.to_string()),
            ("burn-in", s.burn_in.to_string()),
            ("thin", s.thin.to_string()),
            ("seed", s.seed.to_string()),
            ("sampler", text(&s.method)),
            ("step size", text(&s.step_size)),
            ("temperature", s.temperature.to_string()),
            ("temperature schedule", text(&s.temperature_schedule)),
            ("temperature ladder", text(&s.temperature_ladder)),
            ("mini-batch", text(&s.minibatch)),
            ("gradient noise", s.gradient_noise.to_string()),
            ("initial positions", init),
            ("control variate", text(&s.control_variate)),
            ("divergence policy", text(&s.divergence)),
            ("shard", text(&s.shard)),
        ]
        .into_iter()
        // Listed only when set, so runs without one keep the identity earlier versions wrote.
        .chain(s.preconditioner.as_ref().map(|p| {
            (
                "preconditioner",
                format!(
                    "dense metric (checksum {:016x})",
                    fnv1a([bytemuck::cast_slice::<f32, u8>(p.factor())])
                ),
            )
        }))
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        RunIdentity {
            description: format!(
                "{} dimensions, {} chains, {} steps, seed {}, {}",
                dim,
                s.chains,
                s.steps,
                s.seed,
                s.method.name()
            ),
            fingerprint: format!("{:016x}", fnv1a([full.as_bytes()])),
            settings,
        }
    }

    /// The settings in which `other` differs from this run, in words:
    /// `step size (Constant(0.01) there, Constant(0.02) here)`.
    pub(crate) fn differences(&self, other: &[(String, String)]) -> Vec<String> {
        self.settings
            .iter()
            .filter_map(|(name, here)| {
                let there = other
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str());
                match there {
                    Some(there) if there == here => None,
                    Some(there) => Some(format!(
                        "{name} ({} in the checkpoint, {} in this run)",
                        crate::error::quote(there),
                        crate::error::quote(here)
                    )),
                    None => Some(format!("{name} (not recorded in the checkpoint)")),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_its_published_vectors() {
        // Test vectors of the FNV reference (Fowler, Noll & Vo): "" and "a".
        assert_eq!(fnv1a([&b""[..]]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a([&b"a"[..]]), 0xaf63_dc4c_8601_ec8c);
        // Chunks hash as their concatenation.
        assert_eq!(fnv1a([&b"a"[..], &b""[..]]), fnv1a([&b"a"[..]]));
    }
}
