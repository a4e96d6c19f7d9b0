//! Print what vigil reads from each Arrow file of a recording (debug aid).
fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: record_dump FILE.arrow");
        std::process::exit(2);
    };
    match vigil::record::read_arrow_file(std::path::Path::new(&path)) {
        Ok(f) => eprintln!("rows {} batches {} complete {} truncated {:?}", f.num_rows(), f.batches.len(), f.complete, f.truncated),
        Err(e) => eprintln!("{e}"),
    }
}
