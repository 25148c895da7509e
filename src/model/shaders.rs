//! The built-in models' WGSL, written against the data-kernel interface
//! (`shaders/data_target.wgsl`).

/// The generalised linear model, with its likelihood file after it.
pub(crate) const GLM: &str = include_str!("../../shaders/glm.wgsl");
/// Linear regression's likelihood.
pub(crate) const GLM_LINEAR: &str = include_str!("../../shaders/glm_linear.wgsl");
/// Logistic regression's likelihood.
pub(crate) const GLM_LOGISTIC: &str = include_str!("../../shaders/glm_logistic.wgsl");
/// A one-hidden-layer MLP classifier.
pub(crate) const MLP: &str = include_str!("../../shaders/mlp.wgsl");
/// Chen et al.'s double well.
pub(crate) const DOUBLE_WELL: &str = include_str!("../../shaders/double_well.wgsl");
/// Zhang et al.'s 25-component grid mixture.
pub(crate) const GRID_MIXTURE: &str = include_str!("../../shaders/grid_mixture.wgsl");
/// Welling & Teh's two-parameter mixture.
pub(crate) const MIXTURE: &str = include_str!("../../shaders/mixture.wgsl");
