//! Checkpoints: the whole state of a run in one file, written atomically, and read back with
//! every check that keeps a resume exact.
//!
//! A run's future is a pure function of its settings and of (θ, the rule's state, the step
//! counter): the random numbers are keyed by (seed, chain, step), and the schedules are
//! functions of the step. So a checkpoint holds exactly those, plus the number of draws the
//! sink had durably received. (A control-variate centre is part of the settings, so of the
//! fingerprint.) Resuming from it gives draws bit-identical to an uninterrupted run's.
//!
//! # File format
//!
//! `DIR/checkpoint.bin`: the magic line `LANGEVIN CHECKPOINT 2\n`, a little-endian `u32`
//! length, that many bytes of JSON metadata ([`CheckpointInfo`]), then the payload — f32
//! arrays, little-endian, in the order the metadata lists their lengths. The metadata carries
//! the payload's XXH3-64 checksum, and the checksum of the draws the sink held, so a resume
//! can tell the run's draws file from another's. The file is written under a temporary name
//! and renamed, so `checkpoint.bin` is always a complete checkpoint: the previous one or the
//! new one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::identity::RunIdentity;

const MAGIC: &[u8] = b"LANGEVIN CHECKPOINT 2\n";
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
    /// The run's settings one by one (name, value), so a refusal can name what differs.
    pub settings: Vec<(String, String)>,
    /// [`crate::sink::Sink::checksum`] of the `delivered` draws, hex, where the sink keeps one.
    pub draws_checksum: Option<String>,
    /// Steps completed: the resumed run starts at this step.
    pub next_step: u32,
    /// Kept draws the sink had durably received.
    pub delivered: usize,
    /// Lengths of the payload's arrays: θ, the rule's state, the running statistics, the
    /// chains' status, the last finite draws.
    pub lengths: [usize; STATE_ARRAYS],
    /// XXH3-64 of the payload, hex.
    pub checksum: String,
}

/// A run's state at a step, as written by a checkpointing run.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub(crate) info: CheckpointInfo,
    /// θ, the rule's state, the running statistics, the chains' status (u32 bit patterns)
    /// and the last finite draws, each the concatenation over the run's chain groups.
    pub(crate) state: [Vec<f32>; STATE_ARRAYS],
}

/// Arrays of run state in a checkpoint.
pub(crate) const STATE_ARRAYS: usize = 5;

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
        let bytes = std::fs::read(&path).map_err(|source| Error::io(path.clone(), source))?;
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
        let checksum = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(payload));
        if checksum != info.checksum {
            return Err(bad(format!(
                "checksum {checksum} does not match the recorded {}: the file is corrupted",
                info.checksum
            )));
        }
        let values: Vec<f32> = bytemuck::pod_collect_to_vec(payload);
        let mut rest = &values[..];
        let state: [Vec<f32>; STATE_ARRAYS] = std::array::from_fn(|k| {
            let (array, after) = rest.split_at(info.lengths[k]);
            rest = after;
            array.to_vec()
        });
        Ok(Checkpoint { state, info })
    }

    /// The checksum of the draws the sink had received when it was written, if it kept one.
    pub fn draws_checksum(&self) -> Option<u64> {
        let hex = self.info.draws_checksum.as_deref()?;
        u64::from_str_radix(hex, 16).ok()
    }

    /// Refuses, with the settings that differ named, a checkpoint that another version of
    /// langevin or another run than `sampler`'s wrote. [`crate::Run::resume`] checks this
    /// too; call it first to refuse before doing anything else.
    pub fn check_compatible(&self, sampler: &crate::Sampler) -> Result<()> {
        self.check_matches(&RunIdentity::of(sampler.target(), sampler.settings()))
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
            let differences = run.differences(&self.info.settings);
            let what = match differences.is_empty() {
                true => format!(
                    "it was written by {}; this run is {}",
                    self.info.description, run.description
                ),
                false => format!("it differs in {}", differences.join(", ")),
            };
            return Err(Error::Checkpoint {
                path: here,
                message: format!(
                    "belongs to another run: {what}. Resume with the model, data and settings \
                     of the run that wrote it"
                ),
            });
        }
        Ok(())
    }

    /// Writes `dir/checkpoint.bin` atomically (creating `dir`).
    pub(crate) fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::io(dir.to_owned(), source))?;
        let meta = serde_json::to_vec(&self.info).map_err(|e| Error::Checkpoint {
            path: dir.join(CHECKPOINT_FILE),
            message: e.to_string(),
        })?;
        // The run holds the checkpoint's lock for as long as it writes them.
        crate::output::write_file(&dir.join(CHECKPOINT_FILE), |out| {
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

    fn parts(&self) -> [&[f32]; STATE_ARRAYS] {
        std::array::from_fn(|k| &self.state[k][..])
    }

    /// A checkpoint of `run` after `next_step` steps with `delivered` draws delivered, whose
    /// checksum the sink reported as `draws_checksum`.
    pub(crate) fn new(
        run: &RunIdentity,
        next_step: u32,
        (delivered, draws_checksum): (usize, Option<u64>),
        state: [Vec<f32>; STATE_ARRAYS],
    ) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            info: CheckpointInfo {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                fingerprint: run.fingerprint.clone(),
                description: run.description.clone(),
                settings: run.settings.clone(),
                draws_checksum: draws_checksum.map(|c| format!("{c:016x}")),
                next_step,
                delivered,
                lengths: [0; STATE_ARRAYS],
                checksum: String::new(),
            },
            state,
        };
        let parts = checkpoint.parts();
        let lengths = parts.map(<[f32]>::len);
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for part in parts {
            hasher.update(bytemuck::cast_slice(part));
        }
        let checksum = hasher.digest();
        checkpoint.info.lengths = lengths;
        checkpoint.info.checksum = format!("{checksum:016x}");
        checkpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sampler;

    #[test]
    fn damaged_checkpoints_are_refused_and_good_ones_round_trip() {
        let sampler = Sampler::new(
            crate::Gaussian::isotropic(2, 0.0, 1.0).expect("valid"),
            crate::Settings::default(),
        )
        .expect("valid");
        let dir = std::env::temp_dir().join(format!("langevin-ckpt-{}", std::process::id()));
        let checkpoint = Checkpoint::new(
            &RunIdentity::of(sampler.target(), sampler.settings()),
            40,
            (3, Some(0xabc)),
            std::array::from_fn(|k| vec![k as f32; k + 1]),
        );
        checkpoint.write(&dir).expect("write");
        let back = Checkpoint::load(&dir).expect("load");
        assert_eq!(back, checkpoint);
        back.check_matches(&RunIdentity::of(sampler.target(), sampler.settings()))
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
            .check_matches(&RunIdentity::of(other.target(), other.settings()))
            .expect_err("another run");
        assert!(refused.to_string().contains("another run"), "{refused}");
        assert!(
            refused
                .to_string()
                .contains("seed (0 in the checkpoint, 9 in this run)"),
            "{refused}"
        );
        assert!(!refused.to_string().contains("thin"), "{refused}");
        assert_eq!(back.draws_checksum(), Some(0xabc));

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
