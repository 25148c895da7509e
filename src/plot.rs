//! Trace plots and marginal histograms of a draws file (NPY, f32, `[draws, chains, dim]`), as PNG.
//!
//! [`plot_npy`] draws one row per dimension: on the left each shown chain's value against the
//! draw index (the first [`PlotOptions::max_chains`] chains only, so the lines stay readable),
//! on the right a density-normalised histogram of every chain pooled, with an optional
//! reference density in red. Non-finite values break the trace lines and are left out of the
//! histograms; [`PlotReport::non_finite`] counts them. A file that ends early (a partial file
//! still being written) is plotted up to its last complete draw, with a warning.
//!
//! Text needs a TrueType font, read at run time: the file named by `LANGEVIN_FONT`, else the
//! first of [`FONT_PATHS`] that exists. Without one the figure is drawn with no text at all,
//! and [`PlotReport::warnings`] says what to install. Nothing needs a system library.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::npy::{DrawsFile, Extent};

/// Fonts tried, in order, when `LANGEVIN_FONT` is unset or unusable (Debian's
/// `fonts-dejavu-core` provides the first).
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// What to plot and how large.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Dimensions to plot, one row each, in this order (duplicates dropped); `None` plots the
    /// first four (or fewer).
    pub dims: Option<Vec<usize>>,
    /// Most chains traced (the first ones); the histograms pool every chain. Default 8.
    pub max_chains: usize,
    /// Figure width in pixels. Default 1200.
    pub width: u32,
    /// Height of each dimension's row in pixels. Default 260.
    pub height_per_dim: u32,
    /// Histogram bins. Default 60.
    pub bins: usize,
    /// Draw titles, axis labels and tick labels when a font is found; `false` draws none.
    pub text: bool,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            dims: None,
            max_chains: 8,
            width: 1200,
            height_per_dim: 260,
            bins: 60,
            text: true,
        }
    }
}

/// What [`plot_npy`] drew.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotReport {
    /// The dimensions plotted, one row each, top to bottom.
    pub dims: Vec<usize>,
    /// Draws plotted (complete draws only, for a file that ends early).
    pub draws: usize,
    /// Chains in the file, all pooled in the histograms.
    pub chains: usize,
    /// Chains traced: the first `chains_shown` of them.
    pub chains_shown: usize,
    /// For each plotted dimension, the NaN or infinite values left out.
    pub non_finite: Vec<usize>,
    /// Whether titles and labels were drawn (a font was found and text was asked for).
    pub text: bool,
    /// What the caller should know: no font found, a truncated file.
    pub warnings: Vec<String>,
}

/// Plots the draws in `input` into the PNG `output`, written atomically (see
/// [`crate::output::write_atomically`]). `reference(dim, x)`, when given, is the target's
/// marginal density of `dim` at `x`, drawn over the histogram.
pub fn plot_npy(
    input: &Path,
    output: &Path,
    options: &PlotOptions,
    reference: Option<&dyn Fn(usize, f64) -> f64>,
) -> Result<PlotReport> {
    validate(options)?;
    let mut warnings = Vec::new();
    let draws = read_draws(input, options, &mut warnings)?;
    let text = options.text && font(&mut warnings);
    let (width, rows) = (options.width, draws.dims.len() as u32);
    let height = options.height_per_dim * rows;
    let chains_shown = draws.chains.min(options.max_chains);
    let mut non_finite = Vec::with_capacity(draws.dims.len());
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        for (row, area) in root.split_evenly((rows as usize, 1)).iter().enumerate() {
            let (left, right) = area.split_horizontally(width * 3 / 5);
            trace(&left, &draws, row, chains_shown, text)?;
            non_finite.push(histogram(
                &right,
                &draws,
                row,
                options.bins,
                text,
                reference,
            )?);
        }
        root.present().map_err(drawing)?;
    }
    crate::output::write_atomically(output, |out| {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(out)
            .write_image(&pixels, width, height, image::ColorType::Rgb8)
            .map_err(std::io::Error::other)
    })?;
    for warning in &warnings {
        log::warn!("{warning}");
    }
    Ok(PlotReport {
        dims: draws.dims,
        draws: draws.draws,
        chains: draws.chains,
        chains_shown,
        non_finite,
        text,
        warnings,
    })
}

/// What [`plot_reliability`] drew.
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityReport {
    /// Test examples in the file.
    pub examples: usize,
    /// Its expected calibration error (15 equal-width bins).
    pub ece: f64,
    /// Its accuracy.
    pub accuracy: f64,
    /// What the caller should know: no font found.
    pub warnings: Vec<String>,
}

/// Draws the reliability diagram of the predictive file `input` (`langevin sample
/// --predictive`, with its uncertainty file beside it) into the PNG `output`, written
/// atomically: per confidence bin, the accuracy (bars) against the mean confidence (dots) and
/// the diagonal a calibrated model follows; below, the share of examples in each bin.
pub fn plot_reliability(input: &Path, output: &Path) -> Result<ReliabilityReport> {
    let predictive = crate::predictive::Predictive::read_npy(input)?;
    let bins = predictive.reliability();
    let crate::predictive::PredictiveMetrics::Classification {
        test_accuracy,
        test_ece,
        ..
    } = predictive.metrics()
    else {
        return Err(Error::Plot(
            "a reliability diagram needs class probabilities".into(),
        ));
    };
    let mut warnings = Vec::new();
    let text = font(&mut warnings);
    let (width, height) = (720u32, 760u32);
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let (top, bottom) = root.split_vertically(height * 3 / 4);
        let width_of_bin = 1.0 / bins.len() as f64;
        let caption = format!(
            "reliability: accuracy {test_accuracy:.4}, ECE {test_ece:.4} ({} examples)",
            predictive.examples()
        );
        let mut chart = panel(
            &top,
            &caption,
            ("confidence", "accuracy"),
            (0.0..1.0, 0.0..1.0),
            text,
        )?;
        let filled = || bins.iter().enumerate().filter(|(_, b)| b.0 > 0);
        chart
            .draw_series(filled().map(|(i, &(_, _, accuracy))| {
                let left = i as f64 * width_of_bin;
                Rectangle::new(
                    [
                        (left + 0.1 * width_of_bin, 0.0),
                        (left + 0.9 * width_of_bin, accuracy),
                    ],
                    BLUE.mix(0.5).filled(),
                )
            }))
            .map_err(drawing)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.6)))
            .map_err(drawing)?;
        chart
            .draw_series(filled().map(|(_, &(_, confidence, accuracy))| {
                Circle::new((confidence, accuracy), 4, RED.filled())
            }))
            .map_err(drawing)?;
        let most = bins.iter().map(|b| b.0).max().unwrap_or(1).max(1) as f64;
        let share = most / predictive.examples().max(1) as f64;
        let mut counts = panel(
            &bottom,
            "",
            ("confidence", "share of examples"),
            (0.0..1.0, 0.0..share * 1.05),
            text,
        )?;
        counts
            .draw_series(filled().map(|(i, &(n, _, _))| {
                let left = i as f64 * width_of_bin;
                Rectangle::new(
                    [
                        (left + 0.1 * width_of_bin, 0.0),
                        (
                            left + 0.9 * width_of_bin,
                            n as f64 / predictive.examples() as f64,
                        ),
                    ],
                    BLACK.mix(0.4).filled(),
                )
            }))
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    crate::output::write_atomically(output, |out| {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(out)
            .write_image(&pixels, width, height, image::ColorType::Rgb8)
            .map_err(std::io::Error::other)
    })?;
    Ok(ReliabilityReport {
        examples: predictive.examples(),
        ece: test_ece,
        accuracy: test_accuracy,
        warnings,
    })
}

fn validate(options: &PlotOptions) -> Result<()> {
    let rows = options.dims.as_ref().map_or(4, Vec::len) as u64;
    let tall = "the figure would be over 16000 pixels tall; plot fewer dimensions or lower rows";
    let problems = [
        (
            options.max_chains == 0,
            "max chains",
            "trace at least 1 chain",
        ),
        (options.bins == 0, "bins", "use at least 1 histogram bin"),
        (
            !(200..=4000).contains(&options.width),
            "width",
            "use 200 to 4000 pixels",
        ),
        (
            !(80..=2000).contains(&options.height_per_dim),
            "height per dimension",
            "use 80 to 2000 pixels",
        ),
        (rows == 0, "dims", "name at least one dimension to plot"),
        (
            rows * u64::from(options.height_per_dim) > 16_000,
            "dims",
            tall,
        ),
    ];
    match problems.into_iter().find(|problem| problem.0) {
        Some((_, name, reason)) => Err(Error::invalid(name, reason)),
        None => Ok(()),
    }
}

/// The plotted dimensions of a draws file: `values[k][·]` holds `dims[k]`.
struct Selected {
    dims: Vec<usize>,
    draws: usize,
    chains: usize,
    /// Fortran order stores chain-major (`c · N + i`), C order draw-major (`i · C + c`).
    fortran: bool,
    values: Vec<Vec<f32>>,
}

impl Selected {
    fn at(&self, row: usize, draw: usize, chain: usize) -> f32 {
        let index = match self.fortran {
            true => chain * self.draws + draw,
            false => draw * self.chains + chain,
        };
        self.values[row][index]
    }
}

fn read_draws(path: &Path, options: &PlotOptions, warnings: &mut Vec<String>) -> Result<Selected> {
    let data_error = |message: String| Error::Data {
        path: path.to_owned(),
        line: None,
        message,
    };
    let file = DrawsFile::open(path, Extent::Prefix, true)?;
    let [draws, chains, dim] = file.shape;
    let fortran = file.fortran_order;
    let total = draws.checked_mul(chains).and_then(|n| n.checked_mul(dim));
    let (Some(_), Ok(draws), Ok(chains), Ok(dim)) = (
        total,
        usize::try_from(draws),
        usize::try_from(chains),
        usize::try_from(dim),
    ) else {
        return Err(data_error(format!(
            "shape {:?} is too large to plot",
            file.shape
        )));
    };
    if chains == 0 || dim == 0 {
        return Err(data_error(format!(
            "has shape {:?}: no chains or no dimensions",
            file.shape
        )));
    }
    if draws == 0 {
        return Err(data_error(
            "holds zero draws: the run kept none (check --steps, --burn-in and --thin), or, for \
             a `.partial` file, has not written one yet"
                .into(),
        ));
    }
    let mut dims: Vec<usize> = Vec::new();
    for &d in options
        .dims
        .as_deref()
        .unwrap_or(&[0, 1, 2, 3][..dim.min(4)])
    {
        if d >= dim {
            let reason = format!(
                "dimension {d} is out of range: the draws have {dim} (0 to {})",
                dim - 1
            );
            return Err(Error::invalid("dims", reason));
        }
        if !dims.contains(&d) {
            dims.push(d);
        }
    }
    let complete = file.draws_present as usize;
    if complete == 0 {
        return Err(data_error(format!(
            "ends before its first complete draw of {draws}: not one complete draw; plot it \
             again once one is written"
        )));
    }
    if complete < draws {
        warnings.push(format!(
            "{} ends after {complete} of {draws} draws (a partial file?); plotting those",
            path.display()
        ));
    }
    // Only the plotted dimensions are kept: a row of the file at a time.
    let mut values = vec![Vec::with_capacity(complete * chains); dims.len()];
    let mut reader = file.data()?;
    let row = if fortran { draws } else { dim };
    let rows = if fortran {
        chains * dim
    } else {
        complete * chains
    };
    let mut buffer = vec![0u8; row * 4];
    for r in 0..rows {
        reader
            .read_exact(&mut buffer)
            .map_err(|source| Error::io(path, source))?;
        let value = |k: usize| {
            f32::from_le_bytes([
                buffer[4 * k],
                buffer[4 * k + 1],
                buffer[4 * k + 2],
                buffer[4 * k + 3],
            ])
        };
        if fortran {
            // Row r holds dimension r / C of chain r % C over every draw.
            let d = r / chains;
            if let Some(k) = dims.iter().position(|&p| p == d) {
                values[k].extend((0..draws).map(value));
            }
        } else {
            for (k, &d) in dims.iter().enumerate() {
                values[k].push(value(d));
            }
        }
    }
    Ok(Selected {
        dims,
        draws: complete,
        chains,
        fortran,
        values,
    })
}

/// Loads and registers the font once per path; false, with a warning, when none is usable.
fn font(warnings: &mut Vec<String>) -> bool {
    static REGISTERED: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut registered = REGISTERED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let chosen = std::env::var_os("LANGEVIN_FONT").map(PathBuf::from);
    let candidates = chosen
        .iter()
        .cloned()
        .chain(FONT_PATHS.iter().map(PathBuf::from));
    for path in candidates {
        if registered.as_ref() == Some(&path) {
            return true;
        }
        if !path.exists() && Some(&path) != chosen.as_ref() {
            continue;
        }
        // Fonts are registered for the life of the process, so the bytes are leaked once.
        let loaded = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| "not a TrueType font".into())
            });
        match loaded {
            Ok(()) => {
                *registered = Some(path);
                return true;
            }
            Err(e) => warnings.push(format!("font {} is unusable: {e}", path.display())),
        }
    }
    warnings.push("no font found, so the figure has no text; install one (Debian/Ubuntu: `apt-get install fonts-dejavu-core`) or set LANGEVIN_FONT to a .ttf file".into());
    false
}

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn drawing(error: impl std::fmt::Display) -> Error {
    Error::Plot(error.to_string())
}

/// A panel with grid lines, and with caption, axis labels and ticks when `text`.
fn panel<'a, 'b>(
    area: &'a DrawingArea<BitMapBackend<'b>, Shift>,
    caption: &str,
    labels: (&str, &str),
    (x, y): (Range<f64>, Range<f64>),
    text: bool,
) -> Result<Chart<'a, 'b>> {
    let mut builder = ChartBuilder::on(area);
    builder.margin(10);
    if text {
        builder
            .caption(caption, ("sans-serif", 16))
            .x_label_area_size(34)
            .y_label_area_size(60);
    }
    let mut chart = builder
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(drawing)?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc(labels.0).y_desc(labels.1);
    }
    mesh.draw().map_err(drawing)?;
    if !text {
        let frame = Rectangle::new([(x.start, y.start), (x.end, y.end)], BLACK.stroke_width(1));
        chart.draw_series([frame]).map_err(drawing)?;
    }
    Ok(chart)
}

/// The finite range of `values`, widened when empty or a single point.
fn finite_range(values: impl Iterator<Item = f32>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(f64::from(v)), hi.max(f64::from(v)))
        });
    match (lo.is_finite(), hi > lo) {
        (false, _) => -1.0..1.0,
        (true, false) => lo - 0.5 - lo.abs() * 0.01..hi + 0.5 + hi.abs() * 0.01,
        (true, true) => lo - (hi - lo) * 0.02..hi + (hi - lo) * 0.02,
    }
}

fn trace(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    draws: &Selected,
    row: usize,
    shown: usize,
    text: bool,
) -> Result<()> {
    let d = draws.dims[row];
    let shown_values = (0..draws.draws).flat_map(|i| (0..shown).map(move |c| draws.at(row, i, c)));
    let y = finite_range(shown_values);
    let x = 0.0..(draws.draws.max(2) - 1) as f64;
    let caption = format!(
        "dim {d}: trace of chains 0-{} (of {})",
        shown - 1,
        draws.chains
    );
    let mut chart = panel(area, &caption, ("draw", "value"), (x, y), text)?;
    // About two points per pixel column: longer runs are strided.
    let stride = draws
        .draws
        .div_ceil(2 * area.dim_in_pixel().0 as usize)
        .max(1);
    for c in 0..shown {
        let colour = Palette99::pick(c).stroke_width(1);
        let mut segment = Vec::new();
        for i in (0..draws.draws).step_by(stride).chain([draws.draws]) {
            let value = (i < draws.draws)
                .then(|| draws.at(row, i, c))
                .filter(|v| v.is_finite());
            match value {
                Some(v) => segment.push((i as f64, f64::from(v))),
                None if !segment.is_empty() => {
                    chart
                        .draw_series(LineSeries::new(segment.drain(..), colour))
                        .map_err(drawing)?;
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// Draws the pooled histogram and the reference; returns the number of non-finite values.
fn histogram(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    draws: &Selected,
    row: usize,
    bins: usize,
    text: bool,
    reference: Option<&dyn Fn(usize, f64) -> f64>,
) -> Result<usize> {
    let d = draws.dims[row];
    let values = &draws.values[row];
    let x = finite_range(values.iter().copied());
    let width = (x.end - x.start) / bins as f64;
    let mut counts = vec![0usize; bins];
    let finite: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v))
        .collect();
    for v in &finite {
        counts[(((v - x.start) / width) as usize).min(bins - 1)] += 1;
    }
    let scale = 1.0 / (finite.len().max(1) as f64 * width);
    let curve: Vec<(f64, f64)> = match reference {
        Some(density) => (0..=400)
            .map(|k| x.start + (x.end - x.start) * k as f64 / 400.0)
            .map(|t| (t, density(d, t)))
            .filter(|(_, p)| p.is_finite())
            .collect(),
        None => Vec::new(),
    };
    let top = counts
        .iter()
        .map(|&n| n as f64 * scale)
        .chain(curve.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.08 } else { 1.0 };
    let skipped = values.len() - finite.len();
    let mut caption = format!("dim {d}: density, {} chains pooled", draws.chains);
    if reference.is_some() {
        caption += "; red: reference";
    }
    if skipped > 0 {
        caption += &format!("; {skipped} non-finite left out");
    }
    let mut chart = panel(
        area,
        &caption,
        ("value", "density"),
        (x.clone(), 0.0..top),
        text,
    )?;
    let fill = RGBColor(70, 110, 190).mix(0.6).filled();
    let bars = counts.iter().enumerate().map(|(b, &n)| {
        let left = x.start + b as f64 * width;
        Rectangle::new([(left, 0.0), (left + width, n as f64 * scale)], fill)
    });
    chart.draw_series(bars).map_err(drawing)?;
    if !curve.is_empty() {
        chart
            .draw_series(LineSeries::new(curve, RED.stroke_width(2)))
            .map_err(drawing)?;
    }
    Ok(skipped)
}
