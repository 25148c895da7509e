//! A Gaussian target's parameters: mean μ and precision P (diagonal: D values; dense: D×D).

