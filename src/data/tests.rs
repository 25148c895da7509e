//! The data module's readers and constructors: what they accept and what they refuse.

use super::*;
use std::io::Write;

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("langevin-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("write");
    path
}

fn message(result: Result<Dataset>) -> String {
    result.expect_err("refused").to_string()
}

#[test]
fn dense_data_stored_sparse_keep_their_values() {
    let x = vec![0.0, 2.0, 0.0, 0.0, 0.0, 0.0, -1.5, 0.0, 3.0];
    let data = Dataset::from_dense_as_sparse(x.clone(), 3, vec![1.0, 0.0, 1.0]).expect("ok");
    assert!(matches!(data.storage(), Features::Sparse { .. }));
    assert_eq!((data.to_dense(), data.max_row_entries()), (x, 2));
}

#[test]
fn reads_the_vendored_a9a_with_its_published_shape() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let train =
        Dataset::read_libsvm(root.join("data/a9a"), None, ExtraFeatures::Error).expect("a9a");
    assert_eq!((train.rows(), train.features()), (32_561, 123));
    let positives = train.labels().iter().filter(|&&y| y > 0.0).count();
    assert_eq!(positives, 7_841);
    // 14 non-zeros of 123 in almost every row.
    assert!(
        (train.density() - 14.0 / 123.0).abs() < 0.01,
        "{}",
        train.density()
    );
    let test = Dataset::read_libsvm(
        root.join("data/a9a.t"),
        Some(train.features()),
        ExtraFeatures::Error,
    )
    .expect("a9a.t");
    assert_eq!((test.rows(), test.features()), (16_281, 123));
    assert_eq!(test.labels().iter().filter(|&&y| y > 0.0).count(), 3_846);
}

#[test]
fn libsvm_semantics_for_a_different_feature_count() {
    let path = file("wide.svm", "1 1:0.5 7:2\n-1 2:1\n");
    let dropped = Dataset::read_libsvm(&path, Some(3), ExtraFeatures::Ignore).expect("ignored");
    assert_eq!(dropped.features(), 3);
    assert_eq!(dropped.to_dense(), vec![0.5, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let refused = message(Dataset::read_libsvm(&path, Some(3), ExtraFeatures::Error));
    assert!(
        refused.contains("wide.svm:1") && refused.contains("beyond the declared 3"),
        "{refused}"
    );
    let narrow = Dataset::read_libsvm(&path, None, ExtraFeatures::Error).expect("read");
    assert_eq!(narrow.features(), 7);
    let padded = narrow.with_features(9).expect("wider");
    assert_eq!(padded.features(), 9);
}

#[test]
fn malformed_libsvm_lines_are_reported_with_file_and_line() {
    let cases = [
        ("1 1:1\nabc 2:1\n", "bad.svm:2", "label `abc`"),
        ("1 1:1\n1 2-1\n", "bad.svm:2", "not `index:value`"),
        ("1 0:1\n", "bad.svm:1", "start at 1"),
        ("1 3:1 2:1\n", "bad.svm:1", "must increase"),
        ("1 1:nan\n", "bad.svm:1", "not finite"),
        ("1 1:1\n\n# comment\n-1 1:inf\n", "bad.svm:4", "not finite"),
        ("nan 1:1\n", "bad.svm:1", "not finite"),
        ("", "bad.svm", "empty"),
    ];
    for (text, location, what) in cases {
        let path = file("bad.svm", text);
        let m = message(Dataset::read_libsvm(&path, None, ExtraFeatures::Error));
        assert!(m.contains(location) && m.contains(what), "{text:?}: {m}");
    }
    let missing = message(Dataset::read_libsvm(
        "/nonexistent/a9a",
        None,
        ExtraFeatures::Error,
    ));
    assert!(missing.contains("/nonexistent/a9a"), "{missing}");
}

#[test]
fn csv_with_named_or_last_label() {
    let path = file("ok.csv", "x1,y,x2\n1,0,2\n3,1,4\n");
    let named = Dataset::read_csv(&path, &LabelColumn::Named("y".into())).expect("csv");
    assert_eq!(named.labels(), &[0.0, 1.0]);
    assert_eq!(named.to_dense(), vec![1.0, 2.0, 3.0, 4.0]);
    let last = Dataset::read_csv(&path, &LabelColumn::Last).expect("csv");
    assert_eq!(last.labels(), &[2.0, 4.0]);
    let headless = file("plain.csv", "1,2,0\n3,4,1\n");
    let plain = Dataset::read_csv(&headless, &LabelColumn::Last).expect("csv");
    assert_eq!((plain.rows(), plain.features()), (2, 2));
}

#[test]
fn malformed_csv_lines_are_reported_with_file_and_line() {
    let cases = [
        ("a,b\n1,2\n3\n", "bad.csv:3", "1 fields"),
        ("a,b\n1,x\n", "bad.csv:2", "`x` is not a number"),
        ("a,b\n1,NaN\n", "bad.csv:2", "not finite"),
        ("a,b\n", "bad.csv", "empty"),
    ];
    for (text, location, what) in cases {
        let path = file("bad.csv", text);
        let m = message(Dataset::read_csv(&path, &LabelColumn::Last));
        assert!(m.contains(location) && m.contains(what), "{text:?}: {m}");
    }
    let path = file("named.csv", "a,b\n1,2\n");
    let m = message(Dataset::read_csv(&path, &LabelColumn::Named("y".into())));
    assert!(
        m.contains("no column named `y`") && m.contains("a, b"),
        "{m}"
    );
}

#[test]
fn in_memory_arrays_are_checked() {
    assert!(Dataset::from_dense(vec![1.0, 2.0], 2, vec![1.0]).is_ok());
    assert!(Dataset::from_dense(vec![1.0], 2, vec![1.0]).is_err());
    assert!(Dataset::from_dense(vec![1.0, f32::NAN], 2, vec![1.0]).is_err());
    assert!(Dataset::from_dense(vec![], 2, vec![]).is_err());
}

#[test]
fn only_sparse_rows_of_ones_are_indicators() {
    let ones = file("ones.libsvm", "1 1:1 3:1\n-1 2:1\n");
    let read = Dataset::read_libsvm(&ones, None, ExtraFeatures::Error).expect("valid");
    assert!(read.is_sparse_indicators());
    let scaled = file("scaled.libsvm", "1 1:1 3:0.5\n-1 2:1\n");
    let read = Dataset::read_libsvm(&scaled, None, ExtraFeatures::Error).expect("valid");
    assert!(!read.is_sparse_indicators());
    let dense = Dataset::from_dense(vec![1.0, 1.0], 2, vec![1.0]).expect("valid");
    assert!(!dense.is_sparse_indicators());
}
