//! The peers' figures for the same jobs, as `benches/peers/sgld_jax.py` writes them, joined to
//! our rows as ratios. Both sides must come from one machine in one sitting: the file names
//! its device so a table can say where its figures were taken.

use std::path::Path;

use super::{RegressionRow, W1Row};
use crate::error::{Error, Result};

/// The peers' figures.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Peers {
    /// The peer and its version (e.g. `jax 0.10.2`).
    pub peer: String,
    /// The device the peer ran on, as the peer names it.
    pub device: String,
    /// One row per job.
    pub rows: Vec<PeerRow>,
}

/// One job a peer timed.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct PeerRow {
    /// `W1`, `W2` (shared batch) or `W3` (per-chain batches).
    pub workload: String,
    /// Which implementation (`jax-hand`, `blackjax`, `jax-fused`).
    pub implementation: String,
    /// Chains (W2, W3).
    #[serde(default)]
    pub chains: Option<u32>,
    /// Parameters (W1).
    #[serde(default)]
    pub params: Option<u64>,
    /// Steps per timing.
    pub steps: u32,
    /// Chain-steps per second (W2, W3) or parameter updates per second (W1).
    pub rate: f64,
}

/// One of our rows against one peer row of the same job.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// The workload.
    pub workload: String,
    /// Chains (W2, W3) or parameters (W1).
    pub size: u64,
    /// Our configuration: data path (and `auto`), data set or steps per dispatch.
    pub ours: String,
    /// Our rate.
    pub our_rate: f64,
    /// The peer's implementation.
    pub implementation: String,
    /// The peer's rate.
    pub peer_rate: f64,
    /// `our_rate / peer_rate`.
    pub ratio: f64,
}

impl Peers {
    /// Reads a peers file, refusing rows that name no size or hold no positive rate.
    pub fn read(path: &Path) -> Result<Peers> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::io(path, error))?;
        let bad = |message: String| Error::Data {
            path: path.to_path_buf(),
            line: None,
            message,
        };
        let peers: Peers = serde_json::from_str(&text).map_err(|error| {
            bad(format!(
                "not a peers file ({error}); write one with benches/peers/sgld_jax.py"
            ))
        })?;
        for row in &peers.rows {
            let sized = match row.workload.as_str() {
                "W1" => row.params.is_some(),
                _ => row.chains.is_some(),
            };
            if !(sized && row.rate.is_finite() && row.rate > 0.0) {
                return Err(bad(format!(
                    "row {} {} has no size or no positive rate",
                    row.workload, row.implementation
                )));
            }
        }
        Ok(peers)
    }
}

/// Every SGLD row of ours against every peer row of the same workload and size: W1 by
/// parameters, W2 and W3 by chains.
pub fn compare(w1: &[W1Row], regression: &[RegressionRow], peers: &Peers) -> Vec<Comparison> {
    let mut comparisons = Vec::new();
    for peer in &peers.rows {
        let mut push = |size: u64, ours: String, our_rate: f64| {
            comparisons.push(Comparison {
                workload: peer.workload.clone(),
                size,
                ours,
                our_rate,
                implementation: peer.implementation.clone(),
                peer_rate: peer.rate,
                ratio: our_rate / peer.rate,
            })
        };
        match (peer.workload.as_str(), peer.chains, peer.params) {
            ("W1", _, Some(params)) => {
                for row in w1
                    .iter()
                    .filter(|r| r.sampler == "sgld" && r.params == params)
                {
                    let ours = format!(
                        "{} steps/dispatch, {} multiply",
                        row.steps_per_dispatch, row.rng_multiply
                    );
                    push(params, ours, row.updates_per_s);
                }
            }
            (workload, Some(chains), _) => {
                for row in regression
                    .iter()
                    .filter(|r| r.sampler == "sgld" && r.workload == workload && r.chains == chains)
                {
                    let auto = if row.auto { " (auto)" } else { "" };
                    let ours = format!("{} {}{auto}", row.data, row.data_path);
                    push(u64::from(chains), ours, row.chain_steps_per_s);
                }
            }
            _ => {}
        }
    }
    comparisons
}
