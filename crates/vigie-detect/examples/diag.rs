use chrono::DateTime;
use vigie_detect::nab::{self, CostMatrix};
use vigie_detect::synth::{self, Spec};
use vigie_detect::{Detector, DetectorConfig, z_of_score};

fn main() {
    let spec = Spec::default();
    for seed in 0..30u64 {
        let s = synth::generate(seed, &spec);
        let mut d = Detector::new(DetectorConfig::default()).unwrap();
        let mut alerts = vec![];
        let mut zs = vec![];
        for (i, &v) in s.values.iter().enumerate() {
            let at = DateTime::from_timestamp(s.start + 300 * i as i64, 0).unwrap();
            let r = d.observe(at, v).unwrap();
            alerts.push(r.alert);
            zs.push(z_of_score(r.score));
        }
        let w = nab::windows_from_labels(s.values.len(), &s.onsets).unwrap();
        let sc = nab::score(&alerts, &w, &CostMatrix::STANDARD).unwrap();
        let maxz: Vec<String> = s.onsets.iter().map(|&o| format!("{:.1}", zs[o..(o + 100).min(zs.len())].iter().cloned().fold(0.0, f64::max))).collect();
        let json = serde_json::to_value(&d).unwrap();
        let disp: Vec<String> = json["scales"].as_array().unwrap().iter().map(|x| format!("{:.3}", x["dispersion"].as_f64().unwrap())).collect();
        println!("seed {seed:>2} level {:>8.3} det {}/{} fp {:>2} raw {:>6.2} maxz {:?} disp {:?}", s.level, sc.detected, sc.windows, sc.fp, sc.raw, maxz, disp);
    }
}
