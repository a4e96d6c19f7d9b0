//! Scratch (not committed): time compact_file of a samples file (level from VIGIL_ZSTD).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let src = std::path::PathBuf::from(std::env::args().nth(1).ok_or("file")?);
    let dir = tempfile::tempdir()?;
    let mut times = Vec::new();
    let mut bytes = 0;
    for i in 0..7 {
        let dst = dir.path().join(format!("s{i}.arrow"));
        std::fs::copy(&src, &dst)?;
        let t0 = std::time::Instant::now();
        let stats = vigil::record::compact_file(&dst, &dst, vigil::record::FileKind::Samples)?;
        times.push(t0.elapsed());
        bytes = stats.bytes;
    }
    times.sort();
    println!("{bytes} B; min {:?} median {:?}", times[0], times[3]);
    Ok(())
}
