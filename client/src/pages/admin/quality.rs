//! The Quality page: carriers side by side (`table#quality-carriers`),
//! their MOS, loss and ASR over time (inline SVG), the MOS and loss
//! distributions, channel sizing against each carrier's limit, the worst
//! calls (`table#quality-worst`, each linking to its record) and, for
//! admins, each carrier's alert threshold (`form#quality-threshold`).

use shared::api::{CarrierQualitySummary, QualityReport, QualityThreshold};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use super::{AdminProps, time_ms};
use crate::api::admin;
use crate::components::admin::{AdminPage, Bars, LineChart, Series};

/// The two views: the last day by hour, the last 30 days by day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    Day,
    Month,
}

impl Range {
    fn query(self, now_s: i64) -> String {
        let (span, bucket) = match self {
            Range::Day => (86_400, "hour"),
            Range::Month => (30 * 86_400, "day"),
        };
        format!(
            "/api/v1/quality/carriers?from={}&to={}&bucket={bucket}",
            now_s - span,
            now_s + 1
        )
    }
}

fn opt(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}{unit}"))
}

/// The page's data: the report, or why it failed.
#[function_component]
pub fn QualityPage(props: &AdminProps) -> Html {
    let range = use_state(|| Range::Day);
    let generation = use_state(|| 0u32);
    let report = use_state(|| None::<Result<QualityReport, String>>);
    {
        let report = report.clone();
        use_effect_with((*range, *generation), move |(range, _)| {
            #[allow(clippy::cast_possible_truncation)]
            let now = (js_sys::Date::now() / 1000.0) as i64;
            let path = range.query(now);
            spawn_local(async move {
                let result = admin::get::<QualityReport>(&path)
                    .await
                    .map_err(|f| f.message);
                report.set(Some(result));
            });
        });
    }
    let pick = |r: Range| {
        let range = range.clone();
        Callback::from(move |_: MouseEvent| range.set(r))
    };
    let reload = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(generation.wrapping_add(1)))
    };
    let body = match &*report {
        None => html! { <p class="muted">{ "Loading…" }</p> },
        Some(Err(message)) => html! { <p class="form-error" role="alert">{ message.clone() }</p> },
        Some(Ok(report)) => html! {
            <>
                <CarriersTable report={report.clone()} />
                <Charts report={report.clone()} />
                <WorstCalls report={report.clone()} />
                if props.can_edit {
                    <Thresholds carriers={report.carriers.clone()} saved={reload.clone()} />
                }
            </>
        },
    };
    html! {
        <AdminPage page="quality" title="Quality" intro="How each carrier's calls go: answer rates, post-dial delay, loss, jitter and estimated MOS (ITU-T G.107 E-model), over time and side by side.">
            <div class="range-pick" role="group" aria-label="Range">
                <button id="quality-range-day" class={classes!("button", (*range == Range::Day).then_some("button-primary"))} onclick={pick(Range::Day)}>{ "Last 24 hours" }</button>
                <button id="quality-range-month" class={classes!("button", (*range == Range::Month).then_some("button-primary"))} onclick={pick(Range::Month)}>{ "Last 30 days" }</button>
                <button id="quality-refresh" class="button button-quiet" onclick={reload.reform(|_: MouseEvent| ())}>{ "Refresh" }</button>
            </div>
            { body }
        </AdminPage>
    }
}

#[derive(Properties, PartialEq)]
struct ReportProps {
    report: QualityReport,
}

/// One row per carrier; `td[data-figure]` cells hold the numbers.
#[function_component]
fn CarriersTable(props: &ReportProps) -> Html {
    html! {
        <section class="card admin-card" aria-labelledby="quality-carriers-title">
            <h2 id="quality-carriers-title" class="card-title">{ "Carriers" }</h2>
            <div class="table-scroll">
            <table id="quality-carriers" class="admin-table">
                <thead><tr>
                    <th>{ "Carrier" }</th><th>{ "Calls" }</th><th>{ "ASR" }</th><th>{ "NER" }</th>
                    <th>{ "ACD" }</th><th>{ "Minutes" }</th><th>{ "PDD p50 / p95" }</th>
                    <th>{ "Loss avg / p95" }</th><th>{ "Jitter" }</th><th>{ "MOS" }</th>
                    <th>{ "Peak" }</th><th>{ "Channels advised / limit" }</th>
                </tr></thead>
                <tbody>
                    { for props.report.carriers.iter().map(|c| {
                        let short = c.channel_limit.is_some_and(|l| l < c.advised_channels);
                        let pdd = match (c.pdd_p50_ms, c.pdd_p95_ms) {
                            (Some(a), Some(b)) => format!("{a} / {b} ms"),
                            _ => "–".to_owned(),
                        };
                        let low_mos = c.mos_avg.is_some_and(|m| c.threshold.min_mos.is_some_and(|t| m < t));
                        html! {
                            <tr data-carrier={c.carrier.clone()} data-id={c.carrier_id.0.to_string()}>
                                <td>{ &c.carrier }</td>
                                <td data-figure="calls">{ c.calls }</td>
                                <td data-figure="asr">{ format!("{:.0} %", c.asr) }</td>
                                <td data-figure="ner">{ format!("{:.0} %", c.ner) }</td>
                                <td data-figure="acd">{ format!("{:.0} s", c.acd_s) }</td>
                                <td data-figure="minutes">{ format!("{:.1}", c.minutes) }</td>
                                <td data-figure="pdd">{ pdd }</td>
                                <td data-figure="loss">{ format!("{} / {}", opt(c.loss_avg, 1, " %"), opt(c.loss_p95, 1, " %")) }</td>
                                <td data-figure="jitter">{ opt(c.jitter_avg_ms, 1, " ms") }</td>
                                <td data-figure="mos" class={classes!(low_mos.then_some("figure-bad"))}>{ opt(c.mos_avg, 2, "") }</td>
                                <td data-figure="peak">{ c.peak_concurrent }</td>
                                <td data-figure="channels" class={classes!(short.then_some("channels-short"))}>
                                    { format!("{} / {}", c.advised_channels, c.channel_limit.map_or_else(|| "none".to_owned(), |l| l.to_string())) }
                                    if short { { " ⚠ limit below the advice" } }
                                </td>
                            </tr>
                        }
                    }) }
                </tbody>
            </table>
            </div>
            if props.report.carriers.is_empty() {
                <p class="muted empty-list">{ "No carriers yet." }</p>
            }
            <p class="muted">{ "Channels advised: the carrier's busiest moment in the range × 1.2. Loss and jitter: the carrier leg's worse direction (what we received, or what the carrier reported over RTCP)." }</p>
        </section>
    }
}

/// MOS, loss and ASR per carrier over time, then the distributions.
#[function_component]
fn Charts(props: &ReportProps) -> Html {
    let series = |figure: fn(&shared::api::CarrierQuality) -> Option<f64>| -> Vec<Series> {
        props
            .report
            .carriers
            .iter()
            .map(|c| Series {
                name: c.carrier.clone(),
                points: props
                    .report
                    .rows
                    .iter()
                    .filter(|r| r.carrier_id == c.carrier_id)
                    .filter_map(|r| figure(r).map(|v| (r.bucket_start, v)))
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    };
    let loss_max = props
        .report
        .rows
        .iter()
        .filter_map(|r| r.loss_avg)
        .fold(5.0f64, f64::max)
        .ceil();
    let groups = |h: fn(&CarrierQualitySummary) -> &Vec<i64>| -> Vec<(String, Vec<i64>)> {
        props
            .report
            .carriers
            .iter()
            .filter(|c| c.media_calls > 0)
            .map(|c| (c.carrier.clone(), h(c).clone()))
            .collect()
    };
    let mos_bands = ["<2.5", "<3.1", "<3.6", "<4.0", "<4.3", "≥4.3"];
    let loss_bands = ["0", "≤1%", "≤3%", "≤5%", "≤10%", ">10%"];
    html! {
        <section class="card admin-card" aria-labelledby="quality-charts-title">
            <h2 id="quality-charts-title" class="card-title">{ "Over time" }</h2>
            <div class="chart-grid-2">
                <LineChart id="chart-mos" title="Estimated MOS" series={series(|r| r.mos_avg)} y_min={1.0} y_max={4.5} />
                <LineChart id="chart-loss" title="Packet loss" series={series(|r| r.loss_avg)} y_min={0.0} y_max={loss_max} unit="%" />
                <LineChart id="chart-asr" title="ASR" series={series(|r| Some(r.asr))} y_min={0.0} y_max={100.0} unit="%" />
                <LineChart id="chart-pdd" title="PDD p50 (s)" series={series(|r| r.pdd_p50_ms.map(|v| v as f64 / 1000.0))} y_min={0.0} y_max={10.0} unit="s" />
                <Bars id="chart-mos-distribution" title="MOS distribution (share of calls)" bands={mos_bands.iter().map(|b| AttrValue::from(*b)).collect::<Vec<_>>()} groups={groups(|c| &c.mos_histogram)} />
                <Bars id="chart-loss-distribution" title="Loss distribution (share of calls)" bands={loss_bands.iter().map(|b| AttrValue::from(*b)).collect::<Vec<_>>()} groups={groups(|c| &c.loss_histogram)} />
            </div>
        </section>
    }
}

/// The calls with the lowest MOS; each links to its record.
#[function_component]
fn WorstCalls(props: &ReportProps) -> Html {
    html! {
        <section class="card admin-card" aria-labelledby="quality-worst-title">
            <h2 id="quality-worst-title" class="card-title">{ "Worst calls" }</h2>
            <table id="quality-worst" class="admin-table">
                <thead><tr><th>{ "When" }</th><th>{ "Carrier" }</th><th>{ "Dialled" }</th><th>{ "Duration" }</th><th>{ "MOS" }</th><th>{ "Loss" }</th><th>{ "Jitter" }</th><th>{ "Record" }</th></tr></thead>
                <tbody>
                    { for props.report.worst_calls.iter().map(|w| html! {
                        <tr data-id={w.record_id.clone()}>
                            <td>{ time_ms(w.invite_at) }</td>
                            <td>{ w.carrier.clone().unwrap_or_default() }</td>
                            <td class="mono">{ &w.dialled }</td>
                            <td>{ format!("{} s", w.duration_s) }</td>
                            <td data-figure="mos">{ format!("{:.2}", w.mos) }</td>
                            <td data-figure="loss">{ format!("{:.1} %", w.loss_percent) }</td>
                            <td data-figure="jitter">{ format!("{:.1} ms", w.jitter_ms) }</td>
                            <td><a href={format!("/api/v1/calls/{}", w.record_id)} target="_blank" rel="noopener">{ "record" }</a></td>
                        </tr>
                    }) }
                </tbody>
            </table>
            if props.report.worst_calls.is_empty() {
                <p class="muted empty-list">{ "No calls with media figures in the range." }</p>
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ThresholdsProps {
    carriers: Vec<CarrierQualitySummary>,
    saved: Callback<()>,
}

/// Pick a carrier, set its MOS/ASR floor over the last hour; crossing it
/// raises an alert (banner on the admin pages, `alert.raised` webhook).
#[function_component]
fn Thresholds(props: &ThresholdsProps) -> Html {
    let message = use_state(|| None::<Result<String, String>>);
    let carrier_ref = use_node_ref();
    let refs = [use_node_ref(), use_node_ref(), use_node_ref()];
    let onsubmit = {
        let message = message.clone();
        let saved = props.saved.clone();
        let carrier_ref = carrier_ref.clone();
        let refs = refs.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = |name: &str| -> String {
                let node = match name {
                    "carrier_id" => {
                        return carrier_ref
                            .cast::<web_sys::HtmlSelectElement>()
                            .map(|s| s.value())
                            .unwrap_or_default();
                    }
                    "min_mos" => &refs[0],
                    "min_asr" => &refs[1],
                    _ => &refs[2],
                };
                node.cast::<web_sys::HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            let number = |name: &str| -> Result<Option<f64>, String> {
                let v = value(name);
                let v = v.trim();
                if v.is_empty() {
                    return Ok(None);
                }
                v.parse::<f64>()
                    .map(Some)
                    .map_err(|_| format!("{name} must be a number."))
            };
            let carrier = value("carrier_id");
            let parsed = (|| -> Result<(i64, serde_json::Value), String> {
                let id = carrier
                    .parse::<i64>()
                    .map_err(|_| "Pick a carrier.".to_owned())?;
                // Whole calls; the API bounds them (1–100000).
                #[allow(clippy::cast_possible_truncation)]
                let min_calls = number("min_calls")?.map(|v| v.round() as i64);
                Ok((
                    id,
                    serde_json::json!({
                        "min_mos": number("min_mos")?,
                        "min_asr": number("min_asr")?,
                        "min_calls": min_calls,
                    }),
                ))
            })();
            let message = message.clone();
            let saved = saved.clone();
            match parsed {
                Err(e) => message.set(Some(Err(e))),
                Ok((id, body)) => spawn_local(async move {
                    let result = admin::send::<_, QualityThreshold>(
                        "PUT",
                        &format!("/api/v1/quality/thresholds/{id}"),
                        &body,
                    )
                    .await;
                    match result {
                        Ok(_) => {
                            message.set(Some(Ok("Saved.".to_owned())));
                            saved.emit(());
                        }
                        Err(f) => message.set(Some(Err(f.message))),
                    }
                }),
            }
        })
    };
    html! {
        <section class="card admin-card" aria-labelledby="quality-threshold-title">
            <h2 id="quality-threshold-title" class="card-title">{ "Alert thresholds" }</h2>
            <p class="muted">{ "Checked as each call ends, over the current and previous hour: an alert (banner here, alert.raised webhook) at most once an hour per carrier." }</p>
            <form id="quality-threshold" class="admin-form filter-form" {onsubmit} novalidate=true>
                <label>{ "Carrier" }
                    <select name="carrier_id" ref={carrier_ref}>
                        { for props.carriers.iter().map(|c| html! {
                            <option value={c.carrier_id.0.to_string()}>{ format!("{} (MOS < {}, ASR < {})", c.carrier, opt(c.threshold.min_mos, 2, ""), opt(c.threshold.min_asr, 0, " %")) }</option>
                        }) }
                    </select>
                </label>
                <label>{ "MOS below" }<input name="min_mos" ref={refs[0].clone()} type="text" inputmode="decimal" placeholder="3.6" /></label>
                <label>{ "ASR below (%)" }<input name="min_asr" ref={refs[1].clone()} type="text" inputmode="decimal" placeholder="30" /></label>
                <label>{ "After calls" }<input name="min_calls" ref={refs[2].clone()} type="text" inputmode="numeric" placeholder="5" /></label>
                <button class="button button-primary" type="submit">{ "Save threshold" }</button>
            </form>
            { match &*message {
                Some(Ok(m)) => html! { <p class="form-ok" role="status">{ m.clone() }</p> },
                Some(Err(m)) => html! { <p class="form-error" role="alert">{ m.clone() }</p> },
                None => html! {},
            } }
        </section>
    }
}
