//! Line charts of the benchmarks' figures, as SVG with their data beside them as CSV.

use crate::BoxError;

/// One line of a [`line_chart`]: its legend and its points.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Draws `lines` as an SVG line chart at `path` (linear axes from 0 to a little above the largest values), and
/// writes the same points as CSV next to it (`path` with `.csv`: `line,x,y` under a header naming the axes).
pub fn line_chart(
    path: &std::path::Path,
    caption: &str,
    (x_desc, y_desc): (&str, &str),
    lines: &[Line],
) -> Result<(), BoxError> {
    use plotters::prelude::*;
    use std::fmt::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let max = |f: fn(&(f64, f64)) -> f64| {
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(f))
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE)
            * 1.05
    };
    let (xmax, ymax) = (max(|p| p.0), max(|p| p.1));
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 14))
        .draw()?;
    let colors = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
    ];
    let mut csv = format!("line,{x_desc},{y_desc}\n");
    for (i, line) in lines.iter().enumerate() {
        let style = ShapeStyle::from(&colors[i % colors.len()]).stroke_width(2);
        chart
            .draw_series(LineSeries::new(line.points.clone(), style))?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        for (x, y) in &line.points {
            let _ = writeln!(csv, "\"{}\",{x},{y}", line.name.replace('"', "'"));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    std::fs::write(path.with_extension("csv"), csv)?;
    Ok(())
}
