//! Outside tools that some tests need (Python readers, tmux, Mosquitto).
//!
//! A test that cannot run because its tool is missing must not pass as if
//! it had: under CI (`CI` set, as `.ci/run` and every CI service set it)
//! the missing tool fails the test with the reason; on a developer's
//! machine the test says on stderr that it did not run, and returns.

#![allow(dead_code)]

/// `$VIGIL_PYTHON`, a Python with pyarrow and polars, and neurokit2,
/// hrv-analysis and nolds for the HRV references (`.ci/run` makes one).
/// `None` (after saying so) where it is not set outside CI.
#[must_use]
pub fn python(what: &str) -> Option<String> {
    match std::env::var("VIGIL_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ => missing(what, "VIGIL_PYTHON is not set (a Python with pyarrow and polars; .ci/run makes one)"),
    }
}

/// Whether `tmux` runs here; `false` (after saying so) where it does not,
/// outside CI.
#[must_use]
pub fn tmux(what: &str) -> bool {
    let runs = std::process::Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    runs || missing::<()>(what, "tmux is not installed").is_some()
}

/// `rsvg-convert` (Debian: librsvg2-bin), which renders an SVG as a
/// person's viewer would; `None` (after saying so) where it does not run,
/// outside CI.
#[must_use]
pub fn rsvg_convert(what: &str) -> Option<&'static str> {
    let runs = std::process::Command::new("rsvg-convert").arg("--version").output().is_ok_and(|o| o.status.success());
    if runs { Some("rsvg-convert") } else { missing(what, "rsvg-convert is not installed (Debian: librsvg2-bin)") }
}

/// The programs of Debian's `mosquitto` and `mosquitto-clients` that the
/// interop tests run.
pub const MOSQUITTO_PROGRAMS: [&str; 4] = ["mosquitto", "mosquitto_passwd", "mosquitto_sub", "mosquitto_pub"];

/// Whether Mosquitto (the broker, `mosquitto_passwd`, `mosquitto_sub` and
/// `mosquitto_pub`) runs here; `false` (after saying so) where it does not,
/// outside CI.
#[must_use]
pub fn mosquitto(what: &str) -> bool {
    let absent: Vec<&str> =
        MOSQUITTO_PROGRAMS.into_iter().filter(|program| mosquitto_program(program).is_none()).collect();
    absent.is_empty()
        || missing::<()>(what, &format!("{} not installed (Debian: mosquitto, mosquitto-clients)", absent.join(", ")))
            .is_some()
}

/// The path to run Mosquitto's `program` by: its name when it is on `PATH`,
/// else Debian's `/usr/sbin/` copy (the broker lives there, often outside
/// a user's `PATH`).
#[must_use]
pub fn mosquitto_program(program: &str) -> Option<std::path::PathBuf> {
    // Each of them prints its usage for `--help`; a spawn error is "absent".
    let runs = |path: &std::path::Path| std::process::Command::new(path).arg("--help").output().is_ok();
    [std::path::PathBuf::from(program), std::path::Path::new("/usr/sbin").join(program)]
        .into_iter()
        .find(|path| runs(path))
}

/// Under CI, fail: `what` did not run because of `why`. Elsewhere say so
/// and give `None`.
fn missing<T>(what: &str, why: &str) -> Option<T> {
    assert!(!under_ci(), "{what} cannot run under CI: {why}");
    eprintln!("NOT RUN: {what}: {why}");
    None
}

/// CI services set `CI` (to `true`, or `1`); an empty or `false` value is
/// not CI.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The `bids-validator` of PyPI's `bids-validator-deno`, installed in the
/// venv of `$VIGIL_PYTHON` (`.ci/run` installs it there). `None` (after
/// saying so) where it is missing, outside CI.
#[must_use]
pub fn bids_validator(what: &str) -> Option<std::path::PathBuf> {
    let python = python(what)?;
    let validator = std::path::Path::new(&python).with_file_name("bids-validator-deno");
    if validator.is_file() {
        Some(validator)
    } else {
        missing(what, &format!("{} is missing (pip install bids-validator-deno)", validator.display()))
    }
}
