//! Small dense linear algebra in f64 for validating targets and computing exact answers
//! (Cholesky factorisation, inverse); matrices are row-major `n × n`.

/// Lower-triangular `L` with `A = L Lᵀ`, or `None` when `A` is not positive definite.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            let value = a[i * n + j] - dot;
            if i == j {
                if value.is_nan() || value <= 0.0 {
                    return None;
                }
                l[i * n + i] = value.sqrt();
            } else {
                l[i * n + j] = value / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// The inverse of a symmetric positive definite matrix, or `None` when it is not one.
pub(crate) fn spd_inverse(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let l = cholesky(a, n)?;
    let mut inverse = vec![0.0; n * n];
    for column in 0..n {
        // Solve L y = e_column, then Lᵀ x = y.
        let mut y = vec![0.0; n];
        for i in 0..n {
            let e = if i == column { 1.0 } else { 0.0 };
            let dot: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
            y[i] = (e - dot) / l[i * n + i];
        }
        for i in (0..n).rev() {
            let dot: f64 = (i + 1..n)
                .map(|k| l[k * n + i] * inverse[k * n + column])
                .sum();
            inverse[i * n + column] = (y[i] - dot) / l[i * n + i];
        }
    }
    Some(inverse)
}

/// `A B` for `n × n` matrices.
pub(crate) fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                out[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_known_matrix() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let inv = spd_inverse(&a, 2).expect("positive definite");
        let det = 4.0 * 3.0 - 2.0 * 2.0;
        let want = [3.0 / det, -2.0 / det, -2.0 / det, 4.0 / det];
        for (got, want) in inv.iter().zip(want) {
            assert!((got - want).abs() < 1e-12);
        }
        let identity = matmul(&a, &inv, 2);
        assert!((identity[0] - 1.0).abs() < 1e-12 && identity[1].abs() < 1e-12);
    }

    #[test]
    fn indefinite_matrix_has_no_cholesky() {
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(cholesky(&[0.0], 1).is_none());
    }
}
