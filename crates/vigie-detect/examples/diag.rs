use chrono::DateTime;
use vigie_detect::synth::{self, Spec};
use vigie_detect::{Detector, DetectorConfig, score_of_z};

fn main() {
    let spec = Spec { crises: Some(0), ..Spec::default() };
    let config = DetectorConfig { threshold: score_of_z(3.0), ..DetectorConfig::default() };
    let (mut near, mut far) = (0, 0);
    for seed in 20_000..20_050u64 {
        let s = synth::generate(seed, &spec);
        let mut d = Detector::new(config.clone()).unwrap();
        for (i, &v) in s.values.iter().enumerate() {
            let at = DateTime::from_timestamp(s.start + 300 * i as i64, 0).unwrap();
            let r = d.observe(at, v).unwrap();
            if r.alert && i >= 750 {
                let dist = s.nuisances.iter().map(|&n| i as i64 - n as i64).filter(|&d| d >= 0).min().unwrap_or(99999);
                if dist < 30 { near += 1 } else { far += 1 }
                println!("seed {seed} level {:>7.3} row {i:>5} dist {dist:>5} win {:>2} obs {:>8.1} exp {:>8.1} bucket {} vs {:.1}", s.level, r.window.buckets, r.window.observed, r.window.expected, v, r.expected);
            }
        }
    }
    println!("near nuisance {near}, far {far}");
}
