//! Shards: one process runs a slice of a run's chains, and the slices join into the whole run.
//!
//! Every random number is keyed by the run-wide chain id, so shard `i` of `n` — the chains
//! `[⌊i·C/n⌋, ⌊(i+1)·C/n⌋)` — draws exactly what those chains draw in a single run, and the
//! union of the shards' draws is bit-identical to that run's. [`merge`] joins the shards'
//! files after checking their manifests ([`ShardManifest`]).

mod manifest;

use std::ops::Range;
use std::str::FromStr;

use crate::error::{Error, Result};

pub use manifest::{manifest_path, merge, ShardManifest};

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    /// Which shard, `0 ≤ index < count`.
    pub(crate) index: u32,
    /// How many shards the run is cut into, ≥ 1.
    pub(crate) count: u32,
}

impl Shard {
    /// Which shard, `0 ≤ index < count`.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many shards the run is cut into.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Shard `index` of `count`; an error unless `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::invalid(
                "shard",
                format!(
                    "{index}/{count}: need 0 ≤ i < n in i/n (shards are numbered from 0, so a \
                     run cut in 2 has shards 0/2 and 1/2)"
                ),
            ));
        }
        Ok(Shard { index, count })
    }

    /// The run-wide chain ids of this shard among `chains`.
    pub fn chains(&self, chains: u32) -> Range<u32> {
        let cut = |i: u32| (u64::from(i) * u64::from(chains) / u64::from(self.count)) as u32;
        cut(self.index)..cut(self.index + 1)
    }
}

impl FromStr for Shard {
    type Err = Error;

    /// Parses `i/n`.
    fn from_str(text: &str) -> Result<Shard> {
        let parsed = text.split_once('/').and_then(|(i, n)| {
            Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?))
        });
        let (index, count) = parsed.ok_or_else(|| {
            Error::invalid(
                "shard",
                format!("`{text}` is not of the form i/n (for example 0/4)"),
            )
        })?;
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_chains_once_and_bad_specs_are_refused() {
        for (chains, count) in [(10, 3), (7, 7), (1000, 16)] {
            let mut next = 0;
            for index in 0..count {
                let range = Shard::new(index, count).expect("valid").chains(chains);
                assert_eq!(range.start, next);
                next = range.end;
            }
            assert_eq!(next, chains);
        }
        assert_eq!(
            "1/4".parse::<Shard>().expect("valid"),
            Shard { index: 1, count: 4 }
        );
        for bad in ["3/2", "2/2", "0/0", "1", "a/b", "-1/2"] {
            let error = bad.parse::<Shard>().expect_err(bad);
            assert!(error.to_string().contains("shard"), "{error}");
        }
    }
}
