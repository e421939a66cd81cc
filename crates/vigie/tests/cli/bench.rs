//! `vigie bench`: argument checks only (the benchmarks themselves take
//! minutes and are run by hand, see docs/BENCHMARKS.md).

use crate::support::Vigie;

#[test]
fn bench_web_refuses_sizes_too_small_to_measure() {
    let vigie = Vigie::new();
    for (flag, value) in [("--mentions", "0"), ("--mentions", "999"), ("--requests", "0"), ("--connections", "1")] {
        let run = vigie.run(&["bench", "web", flag, value]).code(2);
        assert!(run.stderr.contains(&format!("invalid value '{value}' for '{flag}")), "{flag} {value}: {}", run.stderr);
    }
    assert!(!vigie.data_dir().join("vigie.db").exists());
}

#[test]
fn bench_web_says_wrk_is_needed_before_building_anything() {
    let vigie = Vigie::new();
    let work = vigie.path("work");
    // No wrk on this PATH (nor anything else).
    let run = vigie.run_with(&["bench", "web", "--mentions", "1000", "--work-dir", work.to_str().unwrap()], |cmd| {
        cmd.env("PATH", vigie.path("empty"));
    });
    let run = run.code(1);
    assert!(run.stderr.contains("wrk is not installed"), "{}", run.stderr);
    assert!(run.stderr.contains("apt-get install wrk"), "{}", run.stderr);
    assert!(!work.exists(), "nothing is built without wrk");
}
