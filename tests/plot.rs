//! `langevin::plot`: a draws file becomes a PNG of trace plots and marginal histograms, and
//! every bad input is a typed error; runs with or without a system font.

mod common;
use common::scratch;

use std::path::{Path, PathBuf};

use langevin::plot::{plot_npy, PlotOptions, PlotReport};
use langevin::Error;
use npyz::WriterBuilder;

fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], values: &[T]) {
    let file = std::fs::File::create(path).expect("create npy");
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(file)
        .begin_nd()
        .expect("npy header");
    writer.extend(values.iter().copied()).expect("npy data");
    writer.finish().expect("npy finish");
}

/// `[draws, chains, 2]`: dimension 0 is a slow sine offset per chain, dimension 1 a
/// deterministic spread around 1 (a scrambled uniform grid on ±1).
fn pattern(draws: usize, chains: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(draws * chains * 2);
    for i in 0..draws {
        for c in 0..chains {
            values.push((i as f32 * 0.05 + c as f32).sin() + c as f32 * 0.5);
            let u = ((i * chains + c) * 7919 % 1000) as f32 / 1000.0;
            values.push(1.0 + 2.0 * (u - 0.5));
        }
    }
    values
}

fn draws_file(dir: &Path, draws: usize, chains: usize) -> PathBuf {
    let path = dir.join("draws.npy");
    write_npy(
        &path,
        &[draws as u64, chains as u64, 2],
        &pattern(draws, chains),
    );
    path
}

fn no_text() -> PlotOptions {
    PlotOptions {
        text: false,
        ..PlotOptions::default()
    }
}

fn plot(input: &Path, output: &Path, options: &PlotOptions) -> PlotReport {
    plot_npy(input, output, options, None).expect("plotted")
}

fn image(path: &Path) -> image::RgbImage {
    image::open(path).expect("a decodable PNG").to_rgb8()
}

fn non_white(image: &image::RgbImage, columns: std::ops::Range<u32>) -> usize {
    image
        .enumerate_pixels()
        .filter(|(x, _, p)| columns.contains(x) && p.0 != [255, 255, 255])
        .count()
}

fn is_grey(p: &image::Rgb<u8>) -> bool {
    let [r, g, b] = p.0.map(i32::from);
    (r - g).abs().max((g - b).abs()).max((r - b).abs()) < 12
}

fn is_red(p: &image::Rgb<u8>) -> bool {
    p.0[0] > 200 && p.0[1] < 60 && p.0[2] < 60
}

#[test]
fn a_draws_file_becomes_rows_of_traces_and_histograms() {
    let dir = scratch("rows");
    let input = draws_file(&dir, 200, 3);
    let output = dir.join("fig.png");
    let report = plot(&input, &output, &PlotOptions::default());
    assert_eq!(report.dims, vec![0, 1]);
    assert_eq!(
        (report.draws, report.chains, report.chains_shown),
        (200, 3, 3)
    );
    assert_eq!(report.non_finite, vec![0, 0]);
    if !report.text {
        let warning = report.warnings.join("\n");
        assert!(warning.contains("fonts-dejavu-core") && warning.contains("LANGEVIN_FONT"));
    }
    let png = image(&output);
    assert_eq!(png.dimensions(), (1200, 2 * 260));
    // Both panels of both rows hold drawing: traces on the left, bars on the right.
    for (top, bottom) in [(0, 260), (260, 520)] {
        let row = image::imageops::crop_imm(&png, 0, top, 1200, bottom - top).to_image();
        assert!(non_white(&row, 0..720) > 2000, "trace panel is blank");
        assert!(
            non_white(&row, 720..1200) > 5000,
            "histogram panel is blank"
        );
    }
    // Each of the three chains has its own colour in the trace panel.
    let mut colours: Vec<[u8; 3]> = png
        .enumerate_pixels()
        .filter(|(x, _, p)| *x < 720 && !is_grey(p))
        .map(|(_, _, p)| p.0)
        .collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() >= 3, "{colours:?}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_reference_density_is_drawn_over_the_histogram() {
    let dir = scratch("reference");
    let input = draws_file(&dir, 200, 3);
    let (plain, overlaid) = (dir.join("plain.png"), dir.join("overlaid.png"));
    plot(&input, &plain, &no_text());
    // Dimension 1 is spread uniformly on [0, 2]; dimension 0 gets a normal curve.
    let density = |dim: usize, x: f64| match dim {
        1 => f64::from(u8::from((0.0..=2.0).contains(&x))) * 0.5,
        _ => (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt(),
    };
    let report = plot_npy(&input, &overlaid, &no_text(), Some(&density)).expect("plotted");
    assert!(!report.text && report.warnings.is_empty(), "{report:?}");
    let (plain, overlaid) = (image(&plain), image(&overlaid));
    assert_eq!(plain.dimensions(), overlaid.dimensions());
    let red = |png: &image::RgbImage, rows: std::ops::Range<u32>| {
        png.enumerate_pixels()
            .filter(|(x, y, p)| *x >= 720 && rows.contains(y) && is_red(p))
            .count()
    };
    assert_eq!(red(&plain, 0..520), 0);
    assert!(red(&overlaid, 0..260) > 200, "no curve in row 0");
    assert!(red(&overlaid, 260..520) > 200, "no curve in row 1");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn text_is_drawn_when_a_font_is_found_and_its_absence_is_reported() {
    let dir = scratch("text");
    let input = draws_file(&dir, 50, 2);
    let (bare, labelled) = (dir.join("bare.png"), dir.join("labelled.png"));
    plot(&input, &bare, &no_text());
    let report = plot(&input, &labelled, &PlotOptions::default());
    if report.text {
        // Tick labels and the axis name fill the strip left of the trace panel with dark grey
        // text; the bare figure has only its frame and grid there.
        let text_pixels = |png: &image::RgbImage| {
            png.enumerate_pixels()
                .filter(|(x, _, _)| (12..60).contains(x))
                .filter(|(_, _, p)| is_grey(p) && p.0.iter().all(|&v| v < 160))
                .count()
        };
        let (labelled, bare) = (text_pixels(&image(&labelled)), text_pixels(&image(&bare)));
        assert!(
            labelled > 2 * bare + 200,
            "{labelled} text pixels vs {bare} without text"
        );
    } else {
        let warning = report.warnings.join("\n");
        assert!(warning.contains("fonts-dejavu-core"), "{warning}");
        assert_eq!(image(&labelled), image(&bare));
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn dims_and_chains_shown_follow_the_options() {
    let dir = scratch("options");
    let input = dir.join("wide.npy");
    let values: Vec<f32> = (0..40 * 10 * 6).map(|k| (k % 17) as f32).collect();
    write_npy(&input, &[40, 10, 6], &values);
    let output = dir.join("fig.png");
    let report = plot(&input, &output, &no_text());
    assert_eq!((report.dims, report.chains_shown), (vec![0, 1, 2, 3], 8));
    let options = PlotOptions {
        dims: Some(vec![5, 2, 5]),
        max_chains: 2,
        width: 600,
        height_per_dim: 150,
        ..no_text()
    };
    let report = plot(&input, &output, &options);
    assert_eq!((report.dims, report.chains_shown), (vec![5, 2], 2));
    assert_eq!(image(&output).dimensions(), (600, 300));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn non_finite_values_are_counted_and_skipped() {
    let dir = scratch("non-finite");
    let input = dir.join("diverged.npy");
    let mut values = pattern(100, 3);
    let at = |draw: usize, chain: usize, dim: usize| (draw * 3 + chain) * 2 + dim;
    values[at(10, 1, 0)] = f32::NAN;
    values[at(50, 2, 1)] = f32::INFINITY;
    values[at(51, 2, 1)] = f32::NEG_INFINITY;
    write_npy(&input, &[100, 3, 2], &values);
    let output = dir.join("fig.png");
    let report = plot(&input, &output, &no_text());
    assert_eq!(report.non_finite, vec![1, 2]);
    assert!(non_white(&image(&output), 720..1200) > 5000);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_file_that_ends_early_is_plotted_to_its_last_complete_draw() {
    let dir = scratch("partial");
    let input = draws_file(&dir, 100, 3);
    let bytes = std::fs::read(&input).expect("read");
    // Cut 30 draws and a half off the end: 70 complete draws remain.
    let cut = bytes.len() - (30 * 3 * 2 + 3) * 4;
    let partial = dir.join(".draws.npy.partial");
    std::fs::write(&partial, &bytes[..cut]).expect("write");
    let report = plot(&partial, &dir.join("fig.png"), &no_text());
    assert_eq!(report.draws, 69);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("69 of 100 draws")),
        "{report:?}"
    );
    // A streamed file appends data before it rewrites the header's count: values past the
    // header's shape are ignored.
    let mut longer = bytes.clone();
    longer.extend(std::iter::repeat_n(0u8, 5 * 4));
    std::fs::write(&partial, &longer).expect("write");
    let report = plot(&partial, &dir.join("fig.png"), &no_text());
    assert_eq!(
        (report.draws, report.warnings.len()),
        (100, 0),
        "{report:?}"
    );
    // A header that counts no draw yet is refused with a hint.
    write_npy::<f32>(&partial, &[0, 3, 2], &[]);
    let message = data_error(&partial, &dir.join("fig.png"));
    assert!(message.contains("`.partial` file"), "{message}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

fn data_error(input: &Path, output: &Path) -> String {
    match plot_npy(input, output, &no_text(), None) {
        Err(error @ Error::Data { .. }) => error.to_string(),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn files_that_are_not_draws_are_refused_with_what_was_expected() {
    let dir = scratch("not-draws");
    let output = dir.join("fig.png");
    let text = dir.join("draws.csv");
    std::fs::write(&text, "1,2,3\n4,5,6\n").expect("write");
    let message = data_error(&text, &output);
    assert!(
        message.contains("not a readable NPY") && message.contains("[draws, chains, dim]"),
        "{message}"
    );
    let flat = dir.join("flat.npy");
    write_npy(&flat, &[4, 3], &[0f32; 12]);
    let message = data_error(&flat, &output);
    assert!(
        message.contains("shape [4, 3]") && message.contains("[draws, chains, dim]"),
        "{message}"
    );
    let doubles = dir.join("doubles.npy");
    write_npy(&doubles, &[2, 2, 2], &[0f64; 8]);
    let message = data_error(&doubles, &output);
    assert!(
        message.contains("<f8") && message.contains("f32"),
        "{message}"
    );
    let empty = dir.join("empty.npy");
    write_npy::<f32>(&empty, &[0, 4, 2], &[]);
    let message = data_error(&empty, &output);
    assert!(
        message.contains("zero draws") && message.contains("--thin"),
        "{message}"
    );
    assert!(!output.exists(), "nothing is written for a refused input");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn bad_dims_options_and_paths_are_typed_errors() {
    let dir = scratch("errors");
    let input = draws_file(&dir, 20, 2);
    let output = dir.join("fig.png");
    let options = PlotOptions {
        dims: Some(vec![0, 2]),
        ..no_text()
    };
    match plot_npy(&input, &output, &options, None) {
        Err(Error::InvalidSetting { name, reason }) => {
            assert_eq!(name, "dims");
            assert!(
                reason.contains("dimension 2") && reason.contains("0 to 1"),
                "{reason}"
            );
        }
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
    for options in [
        PlotOptions {
            dims: Some(Vec::new()),
            ..no_text()
        },
        PlotOptions {
            max_chains: 0,
            ..no_text()
        },
        PlotOptions {
            width: 10,
            ..no_text()
        },
    ] {
        let result = plot_npy(&input, &output, &options, None);
        assert!(
            matches!(result, Err(Error::InvalidSetting { .. })),
            "{result:?}"
        );
    }
    let missing = dir.join("missing.npy");
    match plot_npy(&missing, &output, &no_text(), None) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let unwritable = dir.join("no-such-dir").join("fig.png");
    match plot_npy(&input, &unwritable, &no_text(), None) {
        Err(Error::Io { path, .. }) => assert_eq!(path, unwritable),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(!output.exists());
    std::fs::remove_dir_all(&dir).expect("clean up");
}
