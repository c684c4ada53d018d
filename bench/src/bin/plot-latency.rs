//! Draws the commit-to-consumer latency distribution that `cargo bench -p pinit-messaging --bench
//! commit_to_consumer` writes when `PINIT_BENCH_CDF=<file>` is set (rows `mode,percentile,ms`), as an SVG with
//! one line per run mode: `plot-latency <csv> <svg>`. `bench/run-all.sh` runs both.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use pinit_bench::{BoxError, Line};

#[derive(Parser, Debug)]
#[command(
    name = "plot-latency",
    about = "Plots the commit-to-consumer latency distribution (percentile against milliseconds, one line per mode)"
)]
struct Args {
    /// The CSV the benchmark appended to (`PINIT_BENCH_CDF`): `mode,percentile,ms` rows, no header.
    csv: PathBuf,
    /// The SVG to write (its data is written next to it as `.csv`, with a header).
    svg: PathBuf,
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.csv)
        .map_err(|e| format!("cannot read {}: {e}", args.csv.display()))?;
    let mut modes: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (n, row) in text
        .lines()
        .enumerate()
        .filter(|(_, r)| !r.trim().is_empty())
    {
        let cells: Vec<&str> = row.split(',').collect();
        let parsed = match cells.as_slice() {
            [mode, p, ms] => p
                .trim()
                .parse::<f64>()
                .ok()
                .zip(ms.trim().parse::<f64>().ok())
                .map(|xy| (mode.trim(), xy)),
            _ => None,
        };
        let (mode, point) = parsed.ok_or_else(|| {
            format!(
                "{} line {}: expected mode,percentile,ms",
                args.csv.display(),
                n + 1
            )
        })?;
        modes.entry(mode.to_string()).or_default().push(point);
    }
    if modes.is_empty() {
        return Err(format!("{} holds no rows", args.csv.display()).into());
    }
    let lines: Vec<Line> = modes
        .into_iter()
        .map(|(name, points)| Line { name, points })
        .collect();
    pinit_bench::line_chart(
        &args.svg,
        "Commit to consumer: latency by percentile",
        ("percentile", "latency (ms)"),
        &lines,
    )?;
    eprintln!("wrote {}", args.svg.display());
    Ok(())
}
