//! `vigil report RECORDING --out PATH.svg`: a page a researcher would
//! print. One panel per quantity recorded (heart rate with the RR
//! tachogram below it, temperatures, SpO2, blood pressure as points,
//! battery), each with y axes from its data, the configured alarm limits
//! as dashed lines and its own alarm episodes shaded in their priority's
//! colour; a sensor status strip on top with the markers' labels, each
//! device's technical alarms and disconnections; an HRV panel (RMSSD per
//! 5 minutes); a legend. Markers and doses are vertical lines through
//! every panel. Time runs from the first dose (negative before it), else
//! from the start.
//!
//! - [`data`] decides what is drawn: series split at every break, shades,
//!   limits, status rows.
//! - [`axis`] chooses time ticks and y ranges; [`hrv`] computes the HRV
//!   panel; [`draw`] draws each part with plotters.
//!
//! Each part is drawn as its own SVG and the page stacks them as groups
//! (`<g class="part" id="panel-…">`), so a reader (or a test) finds a
//! panel's elements in its group.

mod axis;
mod data;
mod draw;
mod hrv;

use std::path::Path;

use plotters::prelude::*;

use super::{RecordError, Recording};
use data::ReportData;

/// Draw the report of the recording in `dir` into the SVG file `out`.
pub fn report(dir: &Path, out: &Path) -> Result<(), RecordError> {
    let recording = Recording::open(dir)?;
    let samples = recording.samples()?;
    let events = recording.events()?;
    let end = recording.end()?;
    let title = format!(
        "{} — participant {} — {} — duration {}",
        recording.meta.id,
        recording.meta.participant.as_deref().unwrap_or("anon"),
        recording.meta.start_utc.format("%Y-%m-%d %H:%M UTC"),
        end
    );
    let data = ReportData::new(title, &samples, &events, end, &recording.meta.config);
    let svg = page(&data).map_err(|e| RecordError::Other(format!("{}: drawing failed: {e}", out.display())))?;
    write_owner_only(out, svg.as_bytes())
}

/// The page: the parts stacked top to bottom.
fn page(data: &ReportData) -> draw::DrawResult<String> {
    let mut parts: Vec<(String, u32, String)> = Vec::new();
    let subtitle = format!("devices: {}; alarm limits from {}", data.devices.join(", "), data.limits_from);
    parts.push(part("title", 56, |a| draw::title(a, &data.title, &subtitle))?);
    let h = draw::status_height(&data.axis, &data.markers, &data.status);
    parts.push(part("status", h, |a| draw::status(a, &data.axis, &data.markers, &data.status))?);
    let panels: Vec<&data::Panel> = data.panels.iter().chain(data.hrv.as_ref()).collect();
    for (i, p) in panels.iter().enumerate() {
        let last = i + 1 == panels.len();
        let h = draw::panel_height(p, last);
        parts.push(part(&format!("panel-{}", slug(&p.title)), h, |a| {
            draw::panel(a, &data.axis, p, &data.markers, last)
        })?);
    }
    parts.push(part("legend", draw::LEGEND_HEIGHT, |a| draw::legend(a, data.limits_from))?);

    let height: u32 = parts.iter().map(|(_, h, _)| h).sum();
    let width = draw::WIDTH;
    let mut svg = format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\">\n<rect width=\"{width}\" height=\"{height}\" fill=\"#FFFFFF\"/>\n"
    );
    let mut y = 0;
    for (id, h, body) in parts {
        svg.push_str(&format!("<g class=\"part\" id=\"{id}\" transform=\"translate(0,{y})\">\n{body}</g>\n"));
        y += h;
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// One part drawn by `draw` on a canvas of the page's width and `height`:
/// `(id, height, the SVG elements without the enclosing <svg>)`.
fn part(
    id: &str,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> draw::DrawResult,
) -> draw::DrawResult<(String, u32, String)> {
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (draw::WIDTH, height)).into_drawing_area();
        draw(&area)?;
        area.present()?;
    }
    let body_start = svg.find("<svg").and_then(|i| svg[i..].find('>').map(|j| i + j + 1)).unwrap_or(0);
    let body_end = svg.rfind("</svg>").unwrap_or(svg.len());
    Ok((id.to_owned(), height, svg[body_start..body_end].trim_start_matches('\n').to_owned()))
}

/// `heart rate (bpm)` → `heart-rate-bpm`.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Write `bytes` to `path` as a file only its owner can read, whatever
/// the umask and whatever mode a file already there had.
fn write_owner_only(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |source| RecordError::Io { path: path.to_owned(), source };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(super::FILE_MODE)
        .open(path)
        .map_err(io)?;
    // Before any data: an existing file keeps its old mode through `open`.
    file.set_permissions(std::fs::Permissions::from_mode(super::FILE_MODE)).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_ids_are_slugs_of_their_titles() {
        assert_eq!(slug("heart rate (bpm)"), "heart-rate-bpm");
        assert_eq!(slug("HRV: RMSSD per 5 min (ms)"), "hrv-rmssd-per-5-min-ms");
        assert_eq!(slug("temperature (°C)"), "temperature-c");
    }
}
