//! `vigie eval lang` on the shared labelled data. `../shared` sits beside the
//! repository on development machines and in CI, never on a user's machine:
//! there the test says it was skipped and why.

use crate::support::Vigie;

#[test]
fn language_evaluation_reports_every_dataset_and_writes_its_section() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");
    if !std::path::Path::new(data).is_dir() {
        eprintln!("skipped: the shared labelled data is not beside the repository ({data})");
        return;
    }
    let vigie = Vigie::new();
    let printed = vigie.run(&["eval", "lang", "--data", data]).success().stdout;
    assert!(printed.starts_with("## Language identification\n"), "{printed}");
    for set in ["Allociné films", "Allociné TV series", "DEFT 2017", "SemEval 2017", "US airline tweets"] {
        assert!(printed.contains(set), "{set} missing:\n{printed}");
    }
    assert!(printed.contains("Over all 15396 texts:"), "{printed}");

    let report = vigie.path("EVALUATION.md");
    std::fs::write(&report, "# Evaluation\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n").unwrap();
    vigie.run(&["eval", "lang", "--data", data, "--report", report.to_str().unwrap()]).success();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("kept") && text.contains("<!-- lang:start -->\n## Language identification"), "{text}");

    let missing = vigie.run(&["eval", "lang", "--data", "/nonexistent"]).code(1);
    assert!(missing.stderr.contains("cannot open /nonexistent/"), "{}", missing.stderr);
}
