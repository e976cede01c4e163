//! The comparison chart: one PNG, two horizontal bar panels on log scales — accepted lines
//! per CPU-second of the process receiving the load, and p99 request latency — one bar per
//! case. Text is drawn with DejaVu Sans read from the system (pure-Rust rasteriser, no
//! fontconfig); without that font the chart is skipped with a message.
//!
//! Owns: drawing. Does not own: the numbers (`compare`).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::CaseResult;
use crate::bench::BenchError;

const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

fn register_font() -> bool {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DONE.get_or_init(|| {
        let Some(bytes) = FONT_PATHS.iter().find_map(|p| std::fs::read(p).ok()) else {
            return false;
        };
        // Registered once per process; plotters keeps a 'static reference.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    })
}

/// Draws `results` into `path` (PNG). Skips (Ok) when no font is available.
pub fn draw(path: &Path, results: &[CaseResult]) -> Result<(), BenchError> {
    if results.is_empty() {
        return Ok(());
    }
    if !register_font() {
        eprintln!("chart skipped: DejaVu Sans not found (install fonts-dejavu-core)");
        return Ok(());
    }
    let err = |e: &dyn std::fmt::Display| BenchError::Chart {
        reason: e.to_string(),
    };
    let n = results.len();
    let height = 120 + 26 * u32::try_from(n).unwrap_or(40);
    let root = BitMapBackend::new(path, (1400, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(820);
    let labels: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{} c={} gz={}",
                r.label,
                r.concurrency,
                if r.gzip { "on" } else { "off" }
            )
        })
        .collect();
    let per_cpu: Vec<f64> = results
        .iter()
        .map(|r| r.front_lines_per_cpu_s().unwrap_or(0.0))
        .collect();
    let p99: Vec<f64> = results.iter().map(|r| r.report.latency.p99_ms).collect();
    panel(
        &left,
        "accepted lines per CPU-second (receiving process)",
        &labels,
        &per_cpu,
        &RGBColor(31, 119, 180),
        true,
    )
    .map_err(|e| err(&e))?;
    panel(
        &right,
        "p99 latency per request, ms",
        &labels,
        &p99,
        &RGBColor(214, 39, 40),
        false,
    )
    .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    labels: &[String],
    values: &[f64],
    color: &RGBColor,
    with_labels: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let positive = values.iter().copied().filter(|v| *v > 0.0);
    let lo = positive.clone().fold(f64::INFINITY, f64::min);
    let hi = positive.fold(0.0, f64::max);
    let (lo, hi) = if hi > 0.0 {
        (
            10f64.powf(lo.log10().floor()),
            10f64.powf(hi.log10().ceil()),
        )
    } else {
        (1.0, 10.0)
    };
    let n = labels.len() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(if with_labels { 260 } else { 10 })
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_label_formatter(&|v| human(*v))
        .label_style(("sans-serif", 13))
        .draw()?;
    // Case k is drawn top-down in row n-1-k.
    let row = |k: usize| n - 1.0 - k as f64;
    chart.draw_series(
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(k, v)| {
                Rectangle::new(
                    [(lo, row(k) + 0.15), (*v, row(k) + 0.85)],
                    color.mix(0.8).filled(),
                )
            }),
    )?;
    let value_style = ("sans-serif", 12)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0.0)
            .map(|(k, v)| {
                Text::new(
                    format!(" {}", human(*v)),
                    (*v, row(k) + 0.5),
                    value_style.clone(),
                )
            }),
    )?;
    if with_labels {
        let label_style = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        // This panel is the left one, so backend pixels are the area's own.
        for (k, label) in labels.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(lo, row(k) + 0.5));
            area.draw(&Text::new(label.clone(), (x - 8, y), label_style.clone()))?;
        }
    }
    Ok(())
}

/// 1.2k / 3.4M style.
fn human(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.0}k", v / 1e3),
        v if v >= 10.0 => format!("{v:.0}"),
        v => format!("{v:.1}"),
    }
}
