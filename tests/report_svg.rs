//! `vigil report`: the SVG's structure (panels, tick labels, legend
//! entries, limit labels, shades, markers) for a 10-minute session and the
//! 8-hour `mdma-session`, snapshot-tested; and the bugs the old report had:
//! every alarm shaded on every panel, ticks of a short session all `0:00`,
//! lines drawn across gaps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tools;

use std::path::{Path, PathBuf};
use std::time::Duration;

use vigil::model::{OutputEvent, SessionTime};
use vigil::record::{RecordMsg, RecordOptions, Recorder, report, synthetic};

/// Alarm shades as the report fills them: (colour, opacity) per priority.
const SHADES: [(&str, &str, &str); 3] =
    [("low", "#00BEE6", "0.18"), ("medium", "#FFC800", "0.3"), ("high", "#E60000", "0.25")];
/// The first series colour of a panel (its first device).
const FIRST_SERIES: &str = "#0072B2";
/// Where the report puts texts right of the plot (draw.rs): limit labels
/// from x = 1318, the series legend from x = 1444.
const LIMIT_LABEL_X: f64 = 1318.0;
const LEGEND_X: f64 = 1444.0;

/// `vigil simulate SCENARIO --speed max --headless`, recorded; the
/// recording's directory.
fn simulate(root: &Path, scenario: &str) -> PathBuf {
    let dir = root.join("rec");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["simulate", scenario, "--speed", "max", "--headless", "--record-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut entries = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.remove(0)
}

/// `vigil report DIR --out report.svg`: the SVG text.
fn report_cli(root: &Path, recording: &Path) -> String {
    let svg = root.join("report.svg");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("report")
        .arg(recording)
        .arg("--out")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(svg).unwrap()
}

/// One element of the SVG: its name, attributes and (for text) content.
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
}

impl Element {
    fn attr(&self, key: &str) -> &str {
        self.attrs.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }
    fn x(&self) -> f64 {
        self.attr("x").parse().unwrap_or(f64::NAN)
    }
}

/// The report's parts (`<g class="part" id=…>`) with their elements, in
/// order. plotters writes one element per line, attributes in double quotes.
fn parts(svg: &str) -> Vec<(String, Vec<Element>)> {
    let mut out: Vec<(String, Vec<Element>)> = Vec::new();
    let mut lines = svg.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.starts_with("<g class=\"part\"") {
            let id = attrs(line).into_iter().find(|(k, _)| k == "id").unwrap().1;
            out.push((id, Vec::new()));
            continue;
        }
        let Some(rest) = line.strip_prefix('<') else { continue };
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        if name.is_empty() {
            continue;
        }
        let mut element = Element { name, attrs: attrs(line), text: String::new() };
        if element.name == "text" {
            // The text is on the next line, then `</text>`.
            let mut content = Vec::new();
            for next in lines.by_ref() {
                if next.trim() == "</text>" {
                    break;
                }
                content.push(next.trim());
            }
            element.text = content
                .join(" ")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&apos;", "'")
                .replace("&quot;", "\"")
                .replace("&amp;", "&");
        }
        if let Some((_, elements)) = out.last_mut() {
            elements.push(element);
        }
    }
    out
}

fn attrs(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].rsplit(|c: char| c.is_whitespace()).next().unwrap().to_owned();
        let after = &rest[eq + 2..];
        let end = after.find('"').unwrap();
        out.push((key, after[..end].to_owned()));
        rest = &after[end + 1..];
    }
    out
}

fn shades(elements: &[Element]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for e in elements.iter().filter(|e| e.name == "rect") {
        for (priority, fill, opacity) in SHADES {
            if e.attr("fill") == fill && e.attr("opacity") == opacity {
                out.push(priority);
            }
        }
    }
    out
}

/// Lines of colour `stroke` in the plot (the legend's swatch, right of
/// it, is not one).
fn polylines(elements: &[Element], stroke: &str) -> usize {
    let in_plot = |e: &Element| {
        let first_x = e.attr("points").split(',').next().and_then(|x| x.parse::<f64>().ok());
        first_x.is_some_and(|x| x < LIMIT_LABEL_X)
    };
    elements.iter().filter(|e| e.name == "polyline" && e.attr("stroke") == stroke && in_plot(e)).count()
}

/// The SVG's structure as lines: per part, its texts sorted into kinds,
/// the number of shades per priority and of lines of its first series.
fn structure(svg: &str) -> String {
    let mut out = String::new();
    for (id, elements) in parts(svg) {
        out.push_str(&format!("[{id}]\n"));
        let texts: Vec<&Element> = elements.iter().filter(|e| e.name == "text").collect();
        let list = |pick: &dyn Fn(&Element) -> bool| -> Vec<String> {
            texts.iter().filter(|e| pick(e)).map(|e| e.text.clone()).collect()
        };
        match id.as_str() {
            // The recording's id and start time change per run.
            "title" => {
                let title = &texts[0].text;
                out.push_str(&format!("  title: … {}\n", title.rsplit(" — ").next().unwrap()));
                out.push_str(&format!("  subtitle: {}\n", texts[1].text));
            }
            "status" | "legend" => {
                out.push_str(&format!("  texts: {:?}\n", list(&|_| true)));
                out.push_str(&format!("  rects: {}\n", elements.iter().filter(|e| e.name == "rect").count()));
            }
            _ => {
                let is = |e: &Element, anchor: &str| e.attr("text-anchor") == anchor;
                out.push_str(&format!("  title: {}\n", texts[0].text));
                out.push_str(&format!("  x ticks: {:?}\n", list(&|e| is(e, "middle") && !e.text.contains("time"))));
                out.push_str(&format!("  x title: {:?}\n", list(&|e| is(e, "middle") && e.text.contains("time"))));
                let limit = |e: &Element| is(e, "start") && (LIMIT_LABEL_X..LEGEND_X).contains(&e.x());
                out.push_str(&format!("  limit labels: {:?}\n", list(&limit)));
                out.push_str(&format!("  legend: {:?}\n", list(&|e| is(e, "start") && e.x() >= LEGEND_X)));
                let inside = |e: &Element| is(e, "start") && e.x() < LIMIT_LABEL_X && e.text != texts[0].text;
                out.push_str(&format!("  shade labels and notes: {:?}\n", list(&inside)));
                out.push_str(&format!("  shades: {:?}\n", shades(&elements)));
                out.push_str(&format!("  first series' lines: {}\n", polylines(&elements, FIRST_SERIES)));
            }
        }
    }
    out
}

fn part<'a>(parts: &'a [(String, Vec<Element>)], id: &str) -> &'a [Element] {
    &parts.iter().find(|(i, _)| i == id).unwrap_or_else(|| panic!("no part {id}")).1
}

#[test]
fn a_ten_minute_session_reads_in_minutes_and_seconds() {
    let root = tempfile::tempdir().unwrap();
    let recording = simulate(root.path(), "flaky-sensor");
    let svg = report_cli(root.path(), &recording);
    insta::assert_snapshot!(structure(&svg));

    let parts = parts(&svg);
    let hr = part(&parts, "panel-heart-rate-bpm");
    let ticks: Vec<&str> =
        hr.iter().filter(|e| e.name == "text" && e.attr("text-anchor") == "middle").map(|e| e.text.as_str()).collect();
    assert!(ticks.len() >= 4 && ticks.iter().any(|t| *t != "0:00"), "{ticks:?}");
    // The strap lost contact (1:00–1:40) and its link (4:00–4:30): the RR
    // line breaks at both, and the rate of 0 sent without contact is not
    // drawn.
    assert!(polylines(part(&parts, "panel-rr-tachogram-ms"), FIRST_SERIES) >= 3);
    let status: Vec<&str> = part(&parts, "status").iter().map(|e| e.text.as_str()).collect();
    for expected in ["tech.no_contact", "tech.disconnected", "tech.invalid", "tech.stale", "tech.battery_low"] {
        assert!(status.contains(&expected), "{expected} in the status strip: {status:?}");
    }
    // The disconnection itself, grey, under its alarm.
    let grey = part(&parts, "status").iter().filter(|e| e.name == "rect" && e.attr("fill") == "#969696").count();
    assert_eq!(grey, 1);
    // Technical alarms live in the status strip, never as a panel's shade.
    for (id, elements) in parts.iter().filter(|(id, _)| id.starts_with("panel-")) {
        assert!(shades(elements).is_empty(), "{id}: {:?}", shades(elements));
    }
}

#[test]
fn the_mdma_session_report_has_every_quantity_and_shades_only_its_own_alarms() {
    let root = tempfile::tempdir().unwrap();
    let recording = simulate(root.path(), "mdma-session");
    let svg = report_cli(root.path(), &recording);
    insta::assert_snapshot!(structure(&svg));

    let parts = parts(&svg);
    let ids: Vec<&str> = parts.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "title",
            "status",
            "panel-heart-rate-bpm",
            "panel-rr-tachogram-ms",
            "panel-temperature-c",
            "panel-blood-pressure-mmhg",
            "panel-battery",
            "panel-hrv-rmssd-per-5-min-ms",
            "legend"
        ]
    );
    // hr.high and hr.rise (low, at the same time): one shade, on the
    // heart-rate panel and nowhere else, both named.
    let hr = part(&parts, "panel-heart-rate-bpm");
    assert_eq!(shades(hr), ["low"]);
    let names: Vec<&str> = hr.iter().map(|e| e.text.as_str()).collect();
    assert!(names.contains(&"hr.high chest") && names.contains(&"hr.rise chest"), "{names:?}");
    for (id, elements) in parts.iter().filter(|(id, _)| id.starts_with("panel-") && id != "panel-heart-rate-bpm") {
        assert!(shades(elements).is_empty(), "{id}: {:?}", shades(elements));
    }
    // Both doses labelled once, at the top.
    let labels: Vec<&str> = parts.iter().flat_map(|(_, e)| e.iter()).map(|e| e.text.as_str()).collect();
    assert_eq!(labels.iter().filter(|t| **t == "dose 120 mg").count(), 1);
    assert_eq!(labels.iter().filter(|t| **t == "supplemental dose 60 mg").count(), 1);
}

/// A 10-minute synthetic session with one strap whose data stops for 20 s
/// at 5:00 (the recording says why: a gap) and, separately, a hr.high
/// episode.
fn gapped_recording(root: &Path) -> PathBuf {
    let opts =
        RecordOptions { root: root.to_owned(), participant: Some("P01".into()), resume: None, ..Default::default() };
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let rec = Recorder::start(&opts, start, serde_json::Value::Null).unwrap();
    for mut s in synthetic::session(1, 600, 9) {
        let at = s.samples.first().map(|x| x.at).unwrap();
        if (SessionTime::from_secs(300)..SessionTime::from_secs(320)).contains(&at) {
            s.samples.clear();
            s.events.clear();
        }
        if at == SessionTime::from_secs(320) {
            s.output.push(OutputEvent::Gap { at, duration: Duration::from_secs(20) });
        }
        rec.sender()
            .blocking_send(RecordMsg::Batch { events: s.events, samples: s.samples, output: s.output })
            .unwrap();
    }
    rec.finish().unwrap().dir
}

#[test]
fn a_gap_breaks_every_line_of_the_session() {
    let root = tempfile::tempdir().unwrap();
    let dir = gapped_recording(root.path());
    let out = root.path().join("report.svg");
    report(&dir, &out).unwrap();
    let svg = std::fs::read_to_string(&out).unwrap();
    let parts = parts(&svg);
    for id in ["panel-heart-rate-bpm", "panel-rr-tachogram-ms", "panel-temperature-c"] {
        assert_eq!(polylines(part(&parts, id), FIRST_SERIES), 2, "{id}: one line before the gap, one after");
    }
    let status: Vec<&str> = part(&parts, "status").iter().map(|e| e.text.as_str()).collect();
    assert!(status.contains(&"gap"), "{status:?}");
}

/// The report renders as a person would open it: rsvg-convert reads the
/// SVG and makes a PNG of the page's width.
#[test]
fn the_report_renders_with_rsvg_convert() {
    let Some(rsvg) = tools::rsvg_convert("the report's rendering test") else { return };
    let root = tempfile::tempdir().unwrap();
    let dir = gapped_recording(root.path());
    let svg = root.path().join("report.svg");
    report(&dir, &svg).unwrap();
    let png = root.path().join("report.png");
    let out = std::process::Command::new(rsvg).args(["-w", "1600"]).arg(&svg).arg("-o").arg(&png).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    // The IHDR chunk: width, big-endian, at byte 16.
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 1600);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "rsvg-convert complained: {stderr}");
}
