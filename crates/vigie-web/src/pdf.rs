//! PDF reports, only when Chromium is installed on the server: the HTML
//! report printed by `chromium --headless --print-to-pdf` (Debian's
//! `chromium` package). No PDF crate is linked. Without Chromium, the answer
//! says so and points to the HTML report, which prints to PDF from any
//! browser.

use std::path::PathBuf;
use std::time::Duration;

use crate::i18n::Lang;

/// Longest a print may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Why no PDF was made.
#[derive(Debug)]
pub enum PdfError {
    /// No Chromium found.
    NoChromium,
    /// Chromium ran but gave no PDF.
    Failed(String),
    /// Chromium gave no PDF within this many seconds.
    TimedOut(u64),
    /// As many PDFs as the server prints at once are being printed.
    Busy,
}

impl PdfError {
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (PdfError::NoChromium, Lang::Fr) => "Le PDF n'est pas disponible : Chromium n'est pas installé sur le serveur \
                (paquet Debian « chromium », ou VIGIE_CHROMIUM). Téléchargez le rapport HTML et imprimez-le en PDF depuis votre navigateur."
                .into(),
            (PdfError::NoChromium, Lang::En) => "PDF is not available: Chromium is not installed on the server \
                (Debian package \"chromium\", or set VIGIE_CHROMIUM). Download the HTML report and print it to PDF from your browser."
                .into(),
            (PdfError::Failed(why), Lang::Fr) => format!("Chromium n'a pas produit le PDF : {why}"),
            (PdfError::Failed(why), Lang::En) => format!("Chromium did not produce the PDF: {why}"),
            (PdfError::TimedOut(secs), Lang::Fr) => format!(
                "Chromium n'a pas produit le PDF en {secs} s. Téléchargez le rapport HTML et imprimez-le en PDF depuis \
                 votre navigateur."
            ),
            (PdfError::TimedOut(secs), Lang::En) => format!(
                "Chromium did not produce the PDF within {secs} s. Download the HTML report and print it to PDF from \
                 your browser."
            ),
            (PdfError::Busy, Lang::Fr) => "Le serveur imprime déjà d'autres PDF : réessayez dans une minute \
                (ou téléchargez le rapport HTML)."
                .into(),
            (PdfError::Busy, Lang::En) => "The server is printing other PDFs already: try again in a minute \
                (or download the HTML report)."
                .into(),
        }
    }
}

/// `VIGIE_CHROMIUM`, else `chromium` or `chromium-browser` on the `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VIGIE_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

/// Prints the HTML document to PDF bytes.
/// PDFs printed at once at most: each is a whole Chromium (hundreds of MB),
/// which any reader of a project may ask for.
const CONCURRENT_PRINTS: usize = 2;

static PRINTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CONCURRENT_PRINTS);

pub async fn print(html: &str) -> Result<Vec<u8>, PdfError> {
    let exe = chromium().ok_or(PdfError::NoChromium)?;
    // Waits a little for a turn, then says the server is busy rather than
    // starting more Chromiums than the machine can hold.
    let _turn = tokio::time::timeout(std::time::Duration::from_secs(20), PRINTS.acquire())
        .await
        .map_err(|_| PdfError::Busy)?
        .map_err(|_| PdfError::Busy)?;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| PdfError::Failed(e.to_string()))?;
    let dir = std::env::temp_dir()
        .join(format!("vigie-pdf-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    let result = print_in(&exe, &dir, html).await;
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
        tracing::warn!(dir = %dir.display(), "could not remove the PDF work folder: {e}");
    }
    result
}

async fn print_in(exe: &std::path::Path, dir: &std::path::Path, html: &str) -> Result<Vec<u8>, PdfError> {
    let fail = |e: std::io::Error| PdfError::Failed(e.to_string());
    tokio::fs::create_dir_all(dir.join("profile")).await.map_err(fail)?;
    let input = dir.join("report.html");
    let output = dir.join("report.pdf");
    tokio::fs::write(&input, html).await.map_err(fail)?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--no-pdf-header-footer",
    ])
    .arg(format!("--user-data-dir={}", dir.join("profile").display()))
    .arg(format!("--print-to-pdf={}", output.display()))
    .arg(format!("file://{}", input.display()))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    let run = tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .map_err(|_| PdfError::TimedOut(TIMEOUT.as_secs()))?
        .map_err(fail)?;
    match tokio::fs::read(&output).await {
        Ok(pdf) if pdf.starts_with(b"%PDF") => Ok(pdf),
        _ => {
            let err = String::from_utf8_lossy(&run.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
            Err(PdfError::Failed(format!("exit {}: {}", run.status, super::pages::clip(last, 300))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_that_takes_too_long_is_said_in_the_readers_language() {
        let fr = PdfError::TimedOut(60).message(Lang::Fr);
        assert!(fr.starts_with("Chromium n'a pas produit le PDF en 60 s.") && !fr.contains("within"), "{fr}");
        assert!(PdfError::TimedOut(60).message(Lang::En).contains("within 60 s"));
    }
}
