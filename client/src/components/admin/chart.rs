//! Small charts drawn as inline SVG, no script library: a line chart of
//! several series over time ([`LineChart`]) and grouped bars per band
//! ([`Bars`]). The scale arithmetic is plain functions, tested natively.

use yew::prelude::*;

/// Colours of the series, in order (enough for a handful of carriers).
const PALETTE: [&str; 6] = [
    "#2156d9", "#c0282d", "#138a4d", "#a05a00", "#7b3fc4", "#0f8a9d",
];
const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 8.0;

/// One line: a name and its points (x: Unix seconds, y: value).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(i64, f64)>,
}

#[derive(Properties, PartialEq)]
pub struct LineChartProps {
    /// `id` of the `svg`.
    pub id: AttrValue,
    pub title: AttrValue,
    pub series: Vec<Series>,
    /// The y axis runs from `y_min` to `y_max`.
    pub y_min: f64,
    pub y_max: f64,
    /// Unit written after the axis labels (`%`, `ms`, empty).
    #[prop_or_default]
    pub unit: AttrValue,
}

/// Where value `v` of [`lo`, `hi`] lands on an axis of `length` pixels
/// (clamped to the axis).
pub fn scale(v: f64, lo: f64, hi: f64, length: f64) -> f64 {
    if hi <= lo {
        return 0.0;
    }
    ((v - lo) / (hi - lo)).clamp(0.0, 1.0) * length
}

/// The SVG path of `points` on the plot (x over [`x0`, `x1`]).
pub fn path(points: &[(i64, f64)], x0: i64, x1: i64, y_min: f64, y_max: f64) -> String {
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let px = LEFT + scale(*x as f64, x0 as f64, x1.max(x0 + 1) as f64, plot_w);
        let py = TOP + plot_h - scale(*y, y_min, y_max, plot_h);
        d.push_str(&format!(
            "{}{px:.1},{py:.1} ",
            if i == 0 { "M" } else { "L" }
        ));
    }
    d.trim_end().to_owned()
}

/// A line chart with a legend; a series with one point shows as a dot.
#[function_component]
pub fn LineChart(props: &LineChartProps) -> Html {
    let xs = props
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((i64::MAX, i64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (x0, x1) = if x0 > x1 { (0, 1) } else { (x0, x1) };
    let plot_h = HEIGHT - TOP - BOTTOM;
    let ticks = [props.y_min, (props.y_min + props.y_max) / 2.0, props.y_max];
    html! {
        <figure class="chart">
            <figcaption>{ props.title.clone() }</figcaption>
            <svg id={props.id.clone()} viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img" aria-label={props.title.clone()}>
                { for ticks.iter().map(|t| {
                    let y = TOP + plot_h - scale(*t, props.y_min, props.y_max, plot_h);
                    html! {
                        <>
                            <line class="chart-grid" x1={LEFT.to_string()} x2={(WIDTH - 8.0).to_string()} y1={format!("{y:.1}")} y2={format!("{y:.1}")} />
                            <text class="chart-label" x={(LEFT - 4.0).to_string()} y={format!("{:.1}", y + 4.0)} text-anchor="end">{ format!("{t:.1}{}", props.unit) }</text>
                        </>
                    }
                }) }
                <text class="chart-label" x={LEFT.to_string()} y={(HEIGHT - 6.0).to_string()}>{ time_label(x0) }</text>
                <text class="chart-label" x={(WIDTH - 8.0).to_string()} y={(HEIGHT - 6.0).to_string()} text-anchor="end">{ time_label(x1) }</text>
                { for props.series.iter().enumerate().map(|(i, s)| {
                    let colour = PALETTE[i % PALETTE.len()];
                    let d = path(&s.points, x0, x1, props.y_min, props.y_max);
                    html! {
                        <g data-series={s.name.clone()}>
                            <path d={d} fill="none" stroke={colour} stroke-width="2" />
                            { for s.points.iter().map(|(x, y)| {
                                #[allow(clippy::cast_precision_loss)]
                                let px = LEFT + scale(*x as f64, x0 as f64, x1.max(x0 + 1) as f64, WIDTH - LEFT - 8.0);
                                let py = TOP + plot_h - scale(*y, props.y_min, props.y_max, plot_h);
                                html! { <circle cx={format!("{px:.1}")} cy={format!("{py:.1}")} r="3" fill={colour}><title>{ format!("{}: {y:.2}{}", s.name, props.unit) }</title></circle> }
                            }) }
                        </g>
                    }
                }) }
            </svg>
            <ul class="chart-legend">
                { for props.series.iter().enumerate().map(|(i, s)| html! {
                    <li><span class="chart-swatch" style={format!("background:{}", PALETTE[i % PALETTE.len()])}></span>{ s.name.clone() }</li>
                }) }
            </ul>
        </figure>
    }
}

#[derive(Properties, PartialEq)]
pub struct BarsProps {
    pub id: AttrValue,
    pub title: AttrValue,
    /// The bands' names (x axis).
    pub bands: Vec<AttrValue>,
    /// Per series (carrier): its name and a count per band.
    pub groups: Vec<(String, Vec<i64>)>,
}

/// Grouped bars: for each band, one bar per series, as a share of that
/// series' total (so carriers with different volumes compare).
#[function_component]
pub fn Bars(props: &BarsProps) -> Html {
    let plot_h = HEIGHT - TOP - BOTTOM;
    let plot_w = WIDTH - LEFT - 8.0;
    #[allow(clippy::cast_precision_loss)]
    let band_w = plot_w / props.bands.len().max(1) as f64;
    #[allow(clippy::cast_precision_loss)]
    let bar_w = (band_w - 6.0) / props.groups.len().max(1) as f64;
    html! {
        <figure class="chart">
            <figcaption>{ props.title.clone() }</figcaption>
            <svg id={props.id.clone()} viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img" aria-label={props.title.clone()}>
                <line class="chart-grid" x1={LEFT.to_string()} x2={(WIDTH - 8.0).to_string()} y1={(TOP + plot_h).to_string()} y2={(TOP + plot_h).to_string()} />
                <text class="chart-label" x={(LEFT - 4.0).to_string()} y={(TOP + 4.0).to_string()} text-anchor="end">{ "100%" }</text>
                { for props.bands.iter().enumerate().map(|(b, name)| {
                    #[allow(clippy::cast_precision_loss)]
                    let x = LEFT + band_w * b as f64;
                    html! {
                        <>
                            <text class="chart-label" x={format!("{:.1}", x + band_w / 2.0)} y={(HEIGHT - 6.0).to_string()} text-anchor="middle">{ name.clone() }</text>
                            { for props.groups.iter().enumerate().map(|(g, (series, counts))| {
                                let total: i64 = counts.iter().sum();
                                let n = counts.get(b).copied().unwrap_or(0);
                                #[allow(clippy::cast_precision_loss)]
                                let share = if total == 0 { 0.0 } else { n as f64 / total as f64 };
                                let h = share * plot_h;
                                #[allow(clippy::cast_precision_loss)]
                                let bx = x + 3.0 + bar_w * g as f64;
                                html! {
                                    <rect x={format!("{bx:.1}")} y={format!("{:.1}", TOP + plot_h - h)} width={format!("{:.1}", (bar_w - 1.0).max(1.0))} height={format!("{h:.1}")} fill={PALETTE[g % PALETTE.len()]}>
                                        <title>{ format!("{series}, {name}: {n} calls") }</title>
                                    </rect>
                                }
                            }) }
                        </>
                    }
                }) }
            </svg>
            <ul class="chart-legend">
                { for props.groups.iter().enumerate().map(|(i, (name, _))| html! {
                    <li><span class="chart-swatch" style={format!("background:{}", PALETTE[i % PALETTE.len()])}></span>{ name.clone() }</li>
                }) }
            </ul>
        </figure>
    }
}

/// Unix seconds as a short local date and time (the axis ends).
fn time_label(unix_s: i64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_s as f64 * 1000.0));
    let text: String = date
        .to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED)
        .into();
    // "07/12/2026, 22:00:00" → "07/12 22:00".
    let mut parts = text.split(", ");
    let day = parts.next().unwrap_or_default();
    let time = parts.next().unwrap_or_default();
    format!(
        "{} {}",
        day.get(..5).unwrap_or(day),
        time.get(..5).unwrap_or(time)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_maps_and_clamps() {
        assert_eq!(scale(5.0, 0.0, 10.0, 100.0), 50.0);
        assert_eq!(scale(-1.0, 0.0, 10.0, 100.0), 0.0);
        assert_eq!(scale(11.0, 0.0, 10.0, 100.0), 100.0);
        assert_eq!(scale(1.0, 3.0, 3.0, 100.0), 0.0);
    }

    #[test]
    fn paths_start_with_a_move_and_span_the_plot() {
        let d = path(&[(0, 1.0), (10, 4.5)], 0, 10, 1.0, 4.5);
        assert_eq!(
            d,
            format!(
                "M{LEFT:.1},{:.1} L{:.1},{TOP:.1}",
                HEIGHT - BOTTOM,
                WIDTH - 8.0
            )
        );
        assert_eq!(path(&[], 0, 1, 0.0, 1.0), "");
    }
}
