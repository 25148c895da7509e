//! Checkpoints: the whole state of a run in one file, written atomically, and read back with
//! every check that keeps a resume exact.
//!
//! A run's future is a pure function of its settings and of (θ, the rule's state, the step
//! counter): the random numbers are keyed by (seed, chain, step), and the schedules are
//! functions of the step. So a checkpoint holds exactly those, plus the number of draws the
//! sink had durably received and, with control variates, `θ̂` and `∇L(θ̂)`. Resuming from it
//! gives draws bit-identical to an uninterrupted run's.
//!
//! # File format
//!
//! `DIR/checkpoint.bin`: the magic line `LANGEVIN CHECKPOINT 1\n`, a little-endian `u32`
//! length, that many bytes of JSON metadata ([`CheckpointInfo`]), then the payload — f32
//! arrays, little-endian, in the order the metadata lists their lengths. The metadata carries
//! the payload's FNV-1a 64 checksum. The file is written under a temporary name and renamed,
//! so `checkpoint.bin` is always a complete checkpoint: the previous one or the new one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sampler::Sampler;

const MAGIC: &[u8] = b"LANGEVIN CHECKPOINT 1\n";
/// The file inside a checkpoint directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// What a checkpoint says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// The version of langevin that wrote it; another version's is refused (its kernels may
    /// produce different numbers).
    pub version: String,
    /// Fingerprint of the model and settings (FNV-1a 64 of their description).
    pub fingerprint: String,
    /// What the run was, in words, for error messages.
    pub description: String,
    /// Steps completed: the resumed run starts at this step.
    pub next_step: u32,
    /// Kept draws the sink had durably received.
    pub delivered: usize,
    /// Lengths of the payload's arrays: θ, the rule's state, the running statistics, the
    /// chains' status, the last finite draws, then θ̂ and ∇L(θ̂) (0 without).
    pub lengths: [usize; STATE_ARRAYS + 1],
    /// FNV-1a 64 of the payload, hex.
    pub checksum: String,
}

/// A run's state at a step, as written by a checkpointing run.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub(crate) info: CheckpointInfo,
    /// θ, the rule's state, the running statistics, the chains' status (u32 bit patterns)
    /// and the last finite draws, each the concatenation over the run's chain groups.
    pub(crate) state: [Vec<f32>; STATE_ARRAYS],
    pub(crate) mode: Option<Vec<f32>>,
}

/// Arrays of run state in a checkpoint, before the optional mode.
pub(crate) const STATE_ARRAYS: usize = 5;

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
/// settings (not its tuning, which never changes a draw) and a description for messages.
/// Computed once per run: the target's description holds its whole data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunIdentity {
    pub(crate) description: String,
    pub(crate) fingerprint: String,
}

impl RunIdentity {
    pub(crate) fn of(sampler: &Sampler) -> RunIdentity {
        let full = format!("{:?}\n{:?}", sampler.target, sampler.settings);
        let s = &sampler.settings;
        RunIdentity {
            description: format!(
                "{} dimensions, {} chains, {} steps, seed {}, {}",
                sampler.target.dim(),
                s.chains,
                s.steps,
                s.seed,
                s.method.name()
            ),
            fingerprint: format!("{:016x}", fnv1a([full.as_bytes()])),
        }
    }
}

impl Checkpoint {
    /// Steps completed when it was written.
    pub fn next_step(&self) -> u32 {
        self.info.next_step
    }

    /// Kept draws delivered before it was written.
    pub fn delivered(&self) -> usize {
        self.info.delivered
    }

    /// Its metadata.
    pub fn info(&self) -> &CheckpointInfo {
        &self.info
    }

    /// Reads `dir/checkpoint.bin`, checking its format and checksum.
    pub fn load(dir: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = dir.as_ref().join(CHECKPOINT_FILE);
        let bytes = std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let bad = |message: String| Error::Checkpoint {
            path: path.clone(),
            message,
        };
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("not a langevin checkpoint (wrong magic line)".into()))?;
        if rest.len() < 4 {
            return Err(bad("truncated before its metadata".into()));
        }
        let meta_len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let rest = &rest[4..];
        if rest.len() < meta_len {
            return Err(bad("truncated inside its metadata".into()));
        }
        let info: CheckpointInfo = serde_json::from_slice(&rest[..meta_len])
            .map_err(|e| bad(format!("unreadable metadata: {e}")))?;
        let payload = &rest[meta_len..];
        let want: usize = info.lengths.iter().sum::<usize>() * 4;
        if payload.len() != want {
            return Err(bad(format!(
                "payload has {} bytes, its metadata promises {want}: the file is truncated or \
                 corrupted",
                payload.len()
            )));
        }
        let checksum = format!("{:016x}", fnv1a([payload]));
        if checksum != info.checksum {
            return Err(bad(format!(
                "checksum {checksum} does not match the recorded {}: the file is corrupted",
                info.checksum
            )));
        }
        let values: Vec<f32> = bytemuck::pod_collect_to_vec(payload);
        let mut rest = &values[..];
        let state = std::array::from_fn(|k| {
            let (array, after) = rest.split_at(info.lengths[k]);
            rest = after;
            array.to_vec()
        });
        Ok(Checkpoint {
            state,
            mode: (!rest.is_empty()).then(|| rest.to_vec()),
            info,
        })
    }

    /// Refuses a checkpoint that another version or another run wrote.
    pub(crate) fn check_matches(&self, run: &RunIdentity) -> Result<()> {
        let here = PathBuf::from(CHECKPOINT_FILE);
        if self.info.version != env!("CARGO_PKG_VERSION") {
            return Err(Error::Checkpoint {
                path: here,
                message: format!(
                    "written by langevin {}, this is {}; resume it with that version",
                    self.info.version,
                    env!("CARGO_PKG_VERSION")
                ),
            });
        }
        if self.info.fingerprint != run.fingerprint {
            return Err(Error::Checkpoint {
                path: here,
                message: format!(
                    "belongs to another run ({}); this run is {}. Resume with the model, \
                     data and settings of the run that wrote it",
                    self.info.description, run.description
                ),
            });
        }
        Ok(())
    }

    /// Writes `dir/checkpoint.bin` atomically (creating `dir`).
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let meta = serde_json::to_vec(&self.info).map_err(|e| Error::Checkpoint {
            path: dir.join(CHECKPOINT_FILE),
            message: e.to_string(),
        })?;
        crate::output::write_atomically(dir.join(CHECKPOINT_FILE), |out| {
            use std::io::Write;
            out.write_all(MAGIC)?;
            out.write_all(&(meta.len() as u32).to_le_bytes())?;
            out.write_all(&meta)?;
            for part in self.parts() {
                out.write_all(bytemuck::cast_slice(part))?;
            }
            Ok(())
        })
    }

    fn parts(&self) -> [&[f32]; STATE_ARRAYS + 1] {
        std::array::from_fn(|k| match self.state.get(k) {
            Some(array) => &array[..],
            None => self.mode.as_deref().unwrap_or(&[]),
        })
    }

    /// A checkpoint of `run` after `next_step` steps with `delivered` draws delivered;
    /// `mode` is θ̂ then ∇L(θ̂) under control variates.
    pub(crate) fn new(
        run: &RunIdentity,
        next_step: u32,
        delivered: usize,
        state: [Vec<f32>; STATE_ARRAYS],
        mode: Option<Vec<f32>>,
    ) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            info: CheckpointInfo {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                fingerprint: run.fingerprint.clone(),
                description: run.description.clone(),
                next_step,
                delivered,
                lengths: [0; STATE_ARRAYS + 1],
                checksum: String::new(),
            },
            state,
            mode,
        };
        let parts = checkpoint.parts();
        let lengths = parts.map(<[f32]>::len);
        let checksum = fnv1a(parts.map(bytemuck::cast_slice::<f32, u8>));
        checkpoint.info.lengths = lengths;
        checkpoint.info.checksum = format!("{checksum:016x}");
        checkpoint
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

    #[test]
    fn damaged_checkpoints_are_refused_and_good_ones_round_trip() {
        let sampler = Sampler::new(
            crate::Gaussian::isotropic(2, 0.0, 1.0).expect("valid"),
            crate::Settings::default(),
        )
        .expect("valid");
        let dir = std::env::temp_dir().join(format!("langevin-ckpt-{}", std::process::id()));
        let checkpoint = Checkpoint::new(
            &RunIdentity::of(&sampler),
            40,
            3,
            std::array::from_fn(|k| vec![k as f32; k + 1]),
            Some(vec![7.0]),
        );
        checkpoint.write(&dir).expect("write");
        let back = Checkpoint::load(&dir).expect("load");
        assert_eq!(back, checkpoint);
        back.check_matches(&RunIdentity::of(&sampler))
            .expect("same run");
        let other = Sampler::new(
            crate::Gaussian::isotropic(2, 0.0, 1.0).expect("valid"),
            crate::Settings {
                seed: 9,
                ..crate::Settings::default()
            },
        )
        .expect("valid");
        let refused = back
            .check_matches(&RunIdentity::of(&other))
            .expect_err("another run");
        assert!(refused.to_string().contains("another run"), "{refused}");

        let file = dir.join(CHECKPOINT_FILE);
        let bytes = std::fs::read(&file).expect("read");
        std::fs::write(&file, &bytes[..bytes.len() - 2]).expect("truncate");
        let truncated = Checkpoint::load(&dir).expect_err("truncated");
        assert!(truncated.to_string().contains("truncated"), "{truncated}");
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        std::fs::write(&file, &flipped).expect("corrupt");
        let corrupted = Checkpoint::load(&dir).expect_err("corrupted");
        assert!(corrupted.to_string().contains("checksum"), "{corrupted}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
