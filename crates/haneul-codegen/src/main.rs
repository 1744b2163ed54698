//! `cargo run -p haneul-codegen -- crates/<crate> [...]`: regenerate `src/generated.rs`.

fn main() -> anyhow::Result<()> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    if dirs.is_empty() {
        anyhow::bail!("usage: haneul-codegen <crate dir>...");
    }
    for dir in dirs {
        let (path, text) = haneul_codegen::generate_for_crate(std::path::Path::new(&dir))?;
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
