//! The engine: from a [`job::Job`] (plain values: target, settings, tuning, chain window) to GPU state that steps, keeps draws and reports. It plans submits ([`plan`]),
//! chooses kernels ([`choice`]), cuts chains into groups ([`groups`]), and holds each group's
//! buffers and bindings ([`state`], [`target`], [`monitor`]). It never sees the
//! [`crate::Sampler`] front; the run loop (`crate::run`) drives it.

pub(crate) mod choice;
pub(crate) mod groups;
pub(crate) mod job;
pub(crate) mod monitor;
pub(crate) mod network;
pub(crate) mod plan;
pub(crate) mod state;
pub(crate) mod target;
