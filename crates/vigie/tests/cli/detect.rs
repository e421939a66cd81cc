//! `vigie detect` on small series (an obvious surge, broken inputs) and, when
//! `../shared` sits beside the repository, on NAB's tweet files: its alerts
//! scored by the reference scorer `nab_score.py` must give the scores `vigie
//! eval spikes` prints.

use std::io::Write;
use std::path::Path;

use crate::support::Vigie;

/// Two weeks of 5-minute counts (a daily cycle around 10) with a surge to 60
/// on day 10 at 14:00 for three hours.
fn series_with_surge() -> (String, usize) {
    let mut csv = String::from("timestamp,value\n");
    let onset = 10 * 288 + 14 * 12;
    for i in 0..14 * 288 {
        let (day, minute) = (i / 288, (i % 288) * 5);
        let hour = minute as f64 / 60.0;
        let base = 10.0 + 6.0 * (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos();
        let wobble = [0.0, 1.0, -1.0, 2.0, -2.0, 0.0, 1.0][i % 7];
        let value = if (onset..onset + 36).contains(&i) { 60.0 } else { (base + wobble).round() };
        csv.push_str(&format!("2024-03-{:02} {:02}:{:02}:00,{value}\n", day + 1, minute / 60, minute % 60));
    }
    (csv, onset)
}

#[test]
fn an_obvious_surge_raises_one_alert_at_its_start() {
    let vigie = Vigie::new();
    let (csv, onset) = series_with_surge();
    let input = vigie.write("series.csv", &csv);
    let out = vigie.run(&["detect", "--input", input.to_str().unwrap()]).success().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "timestamp,value,score,alert");
    assert_eq!(lines.len(), 14 * 288 + 1);
    let alerts: Vec<&str> = lines[1..].iter().copied().filter(|l| l.ends_with(",1")).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let row = lines[1..].iter().position(|l| l.ends_with(",1")).unwrap();
    assert!(row >= onset && row <= onset + 2, "alert on row {row}, surge from {onset}");
    assert!(alerts[0].starts_with("2024-03-11 14:"), "{}", alerts[0]);
    // Timestamps and values as the input wrote them, scores to 4 decimals.
    let input_rows: Vec<&str> = csv.lines().collect();
    for (i, line) in lines.iter().enumerate().skip(1).step_by(500) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(format!("{},{}", fields[0], fields[1]), input_rows[i]);
        assert_eq!(fields[2].split('.').nth(1).map(str::len), Some(4), "{line}");
    }

    // The same through standard input, gzip-compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(csv.as_bytes()).unwrap();
    let piped = vigie.run_stdin(&["detect", "--input", "-"], &gz.finish().unwrap()).success().stdout;
    assert_eq!(piped, out);
}

#[test]
fn broken_inputs_are_usage_errors_naming_the_line() {
    let vigie = Vigie::new();
    let check = |name: &str, contents: &str, message: &str| {
        let path = vigie.write(name, contents);
        let run = vigie.run(&["detect", "--input", path.to_str().unwrap()]).code(2);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
    };
    let rows = "2024-03-01 00:00:00,1\n2024-03-01 00:05:00,2\n2024-03-01 00:10:00,3\n";
    check("empty.csv", "", "line 1: the input is empty");
    check("headerless.csv", rows, "line 1: expected a header naming the `timestamp` and `value` columns");
    check("nan.csv", &format!("timestamp,value\n{rows}2024-03-01 00:15:00,abc\n"), "line 5: `abc` is not a number");
    check("negative.csv", &format!("timestamp,value\n{rows}2024-03-01 00:15:00,-2\n"), "line 5: `-2` is not a count");
    check("missing.csv", &format!("timestamp,value\n{rows}2024-03-01 00:15:00,\n"), "line 5: no value");
    check(
        "short.csv",
        &format!("timestamp,value\n{rows}2024-03-01 00:15:00\n"),
        "line 5: 1 field(s) where the header has 2",
    );
    check(
        "long.csv",
        &format!("timestamp,value\n{rows}2024-03-01 00:15:00,1,5\n"),
        "line 5: 3 field(s) where the header has 2",
    );
    check("date.csv", &format!("timestamp,value\n{rows}yesterday,1\n"), "line 5: `yesterday` is not a timestamp");
    check(
        "unsorted.csv",
        &format!("timestamp,value\n{rows}2024-03-01 00:05:00,1\n"),
        "line 5: timestamp `2024-03-01 00:05:00` is before the one on line 4",
    );
    check(
        "duplicate.csv",
        &format!("timestamp,value\n{rows}2024-03-01 00:10:00,1\n"),
        "line 5: timestamp `2024-03-01 00:10:00` repeats the one on line 4",
    );
    check(
        "same-bucket.csv",
        &format!("timestamp,value\n{rows}2024-03-01 00:12:00,1\n"),
        "line 5: 2024-03-01 00:12:00 falls in the same 300-second bucket",
    );
    let missing = vigie.run(&["detect", "--input", "/nonexistent/series.csv"]).code(2);
    assert!(missing.stderr.contains("cannot open /nonexistent/series.csv"), "{}", missing.stderr);
}

/// The alerts of `vigie detect` on NAB's five tweet files, scored by
/// `../shared/tools/nab_score.py` and by `vigie eval spikes`: the same per-file scores.
#[test]
fn nab_scores_agree_with_the_reference_scorer() {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");
    let nab = format!("{shared}/data/nab-realtweets");
    let scorer = format!("{shared}/tools/nab_score.py");
    if !Path::new(&nab).is_dir() || !Path::new(&scorer).is_file() {
        eprintln!("skipped: the NAB files are not beside the repository ({nab})");
        return;
    }
    let python_works =
        std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !python_works {
        eprintln!("skipped: python3 is not available to run the reference scorer");
        return;
    }
    let vigie = Vigie::new();
    let detections = vigie.path("detections");
    std::fs::create_dir_all(&detections).unwrap();
    for name in ["AAPL", "GOOG", "IBM", "KO", "UPS"] {
        let file = format!("Twitter_volume_{name}.csv");
        let input = format!("{nab}/realTweets/{file}.gz");
        let out = vigie.run(&["detect", "--input", &input]).success().stdout;
        std::fs::write(detections.join(&file), out).unwrap();
    }
    let reference = std::process::Command::new("python3").arg(&scorer).arg(&nab).arg(&detections).output().unwrap();
    assert!(reference.status.success(), "{}", String::from_utf8_lossy(&reference.stderr));
    let reference = String::from_utf8(reference.stdout).unwrap();

    let report = vigie.run(&["eval", "spikes", "--nab", &nab]).success().stdout;
    assert!(report.starts_with("## Spike detection"), "{report}");
    assert!(report.contains("**oracle**") && report.contains("ARTime"), "{report}");
    let mut checked = 0;
    for line in reference.lines().filter(|l| l.starts_with("Twitter_volume_")) {
        let name = line.split('\t').next().unwrap();
        let raw: f64 = line.split("raw=").nth(1).unwrap().split('\t').next().unwrap().parse().unwrap();
        let row = report.lines().find(|l| l.starts_with(&format!("| {name} |"))).unwrap();
        let ours: f64 = row.split('|').nth(8).unwrap().trim().parse().unwrap();
        assert!((ours - raw).abs() <= 0.0011, "{name}: vigie {ours}, nab_score.py {raw}");
        checked += 1;
    }
    assert_eq!(checked, 5, "{reference}");
    let total: f64 = reference.split("TOTAL raw=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let ours = report.lines().find(|l| l.starts_with("| **total** |")).unwrap();
    let ours: f64 = ours.split('|').nth(8).unwrap().trim().trim_matches('*').parse().unwrap();
    assert!((ours - total).abs() <= 0.0011, "total: vigie {ours}, nab_score.py {total}");
}
