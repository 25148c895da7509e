//! Shard manifests and `merge`: each shard's draws file gets a manifest beside it
//! (`PATH.shard.json`) naming the run, the slice and the checksum of the draws, which [`merge`]
//! checks before it joins the files along the chain axis: a shard's draws under another
//! shard's manifest, or a changed file, is refused.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, Result};
use crate::identity::RunIdentity;
use crate::model::Target;
use crate::npy::{DrawsFile, Extent};
use crate::output::Commit;
use crate::sampler::settings::Settings;

/// What a shard's draws file holds, written beside it as `PATH.shard.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Fingerprint of the whole run (model and settings, the shard left out).
    pub run: String,
    /// The whole run, in words.
    pub description: String,
    /// This shard's index.
    pub index: u32,
    /// Shards in the run.
    pub count: u32,
    /// First run-wide chain id in the file.
    pub first_chain: u32,
    /// Chains in the file.
    pub chains: u32,
    /// Chains in the whole run.
    pub total_chains: u32,
    /// XXH3-64 of the draws file's data (every value, little-endian f32, in file order), hex.
    pub draws_checksum: String,
}

/// `PATH.shard.json`.
pub fn manifest_path(draws: &Path) -> PathBuf {
    crate::output::with_suffix(draws, ".shard.json")
}

impl ShardManifest {
    /// The manifest of the shard `settings` run of `target`, whose draws have checksum
    /// `draws_checksum` ([`crate::sink::Sink::checksum`] of its stream), or `None` for a run
    /// that is not sharded.
    pub fn of(target: &Target, settings: &Settings, draws_checksum: u64) -> Option<ShardManifest> {
        let shard = settings.shard?;
        let whole = Settings {
            shard: None,
            ..settings.clone()
        };
        let identity = RunIdentity::of(target, &whole);
        let chains = shard.chains(settings.chains);
        Some(ShardManifest {
            run: identity.fingerprint,
            description: identity.description,
            index: shard.index,
            count: shard.count,
            first_chain: chains.start,
            chains: chains.end - chains.start,
            total_chains: settings.chains,
            draws_checksum: format!("{draws_checksum:016x}"),
        })
    }

    fn to_json(
        &self,
    ) -> impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()> + '_ {
        move |out| {
            serde_json::to_writer_pretty(&mut *out, self)?;
            Ok(())
        }
    }

    /// Writes it beside `draws`.
    pub fn write(&self, draws: &Path) -> Result<()> {
        crate::output::write_atomically(manifest_path(draws), self.to_json())
    }

    /// Stages it beside `draws`, to appear with the run's other outputs.
    pub fn stage(&self, draws: &Path, commit: &mut Commit) -> Result<()> {
        commit.stage(&manifest_path(draws), self.to_json())
    }

    /// Reads the manifest beside `draws`.
    pub fn read(draws: &Path) -> Result<ShardManifest> {
        let path = manifest_path(draws);
        let text =
            std::fs::read_to_string(&path).map_err(|source| Error::io(path.clone(), source))?;
        serde_json::from_str(&text).map_err(|e| Error::Data {
            path,
            line: None,
            message: format!("not a shard manifest of this version of langevin: {e}"),
        })
    }
}

/// Joins the draws files of every shard of one run into `out` (chains in run-wide order),
/// after checking that they are all the shards of the same run, each exactly once, with the
/// shapes their manifests promise; each file's data are checked against its manifest's
/// checksum as they are copied. Nothing is written unless every check passes; `out` is
/// written under a temporary name and renamed, and may not be one of the inputs.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<()> {
    let mut parts = Vec::new();
    for path in shards {
        for input in [path.clone(), manifest_path(path)] {
            if crate::output::same_file(out, &input) {
                return Err(Error::invalid_output(
                    "merge output",
                    out,
                    format!(
                        "is the input {}; writing it would destroy that shard",
                        input.display()
                    ),
                ));
            }
        }
        let manifest = ShardManifest::read(path)?;
        let file = DrawsFile::open(path, Extent::Complete, false)?;
        if file.shape[1] != u64::from(manifest.chains) {
            return Err(Error::Data {
                path: path.clone(),
                line: None,
                message: format!(
                    "holds {} chains; its manifest says {}",
                    file.shape[1], manifest.chains
                ),
            });
        }
        parts.push((path, manifest, file));
    }
    let Some((first_path, first, first_file)) = parts.first() else {
        return Err(Error::invalid("merge", "no shard files given"));
    };
    let first_shape = first_file.shape;
    for (path, manifest, file) in &parts {
        if manifest.run != first.run || manifest.count != first.count {
            return Err(Error::invalid(
                "merge",
                format!(
                    "{} is from another run ({}, {} shards) than {} ({}, {} shards)",
                    path.display(),
                    manifest.description,
                    manifest.count,
                    first_path.display(),
                    first.description,
                    first.count
                ),
            ));
        }
        if file.shape[0] != first_shape[0] || file.shape[2] != first_shape[2] {
            return Err(Error::invalid(
                "merge",
                format!(
                    "{} has {} draws of {} dimensions, {} has {} of {}: is one of them \
                     unfinished?",
                    path.display(),
                    file.shape[0],
                    file.shape[2],
                    first_path.display(),
                    first_shape[0],
                    first_shape[2]
                ),
            ));
        }
    }
    parts.sort_by_key(|(_, manifest, _)| manifest.index);
    let indices: Vec<u32> = parts.iter().map(|(_, m, _)| m.index).collect();
    let want: Vec<u32> = (0..parts[0].1.count).collect();
    if indices != want {
        return Err(Error::invalid(
            "merge",
            format!(
                "got shards {indices:?} of {}; need each of {want:?} exactly once",
                want.len()
            ),
        ));
    }
    let (draws, dim) = (first_shape[0], first_shape[2]);
    let total = u64::from(parts[0].1.total_chains);
    let mut readers = parts
        .iter()
        .map(|(_, _, file)| Ok((file.data()?, Xxh3::new())))
        .collect::<Result<Vec<_>>>()?;
    let mut commit = Commit::new();
    let _lock = crate::output::OutputLock::acquire(out)?;
    let mut mismatch = None;
    commit
        .stage(out, |writer| {
            writer.write_all(&crate::npy::draws_header([draws, total, dim]))?;
            let mut buffer = Vec::new();
            for _ in 0..draws {
                for ((_, manifest, _), (file, hasher)) in parts.iter().zip(readers.iter_mut()) {
                    let bytes = (u64::from(manifest.chains) * dim * 4) as usize;
                    buffer.resize(bytes, 0);
                    file.read_exact(&mut buffer)?;
                    hasher.update(&buffer);
                    writer.write_all(&buffer)?;
                }
            }
            for ((path, manifest, _), (_, hasher)) in parts.iter().zip(&readers) {
                let got = format!("{:016x}", hasher.digest());
                if got != manifest.draws_checksum {
                    mismatch = Some(((*path).clone(), got, manifest.draws_checksum.clone()));
                    return Err(std::io::Error::other(
                        "a shard's checksum differs from its manifest's",
                    ));
                }
            }
            writer.flush()
        })
        .map_err(|e| match mismatch.take() {
            Some((path, got, want)) => Error::Data {
                path,
                line: None,
                message: format!(
                    "its draws have checksum {got}, its manifest records {want}: the file is \
                 another shard's or was changed after the run wrote it"
                ),
            },
            None => e,
        })?;
    commit.commit()
}
