//! Print verdicts: `predict LANG TEXT…`
fn main() {
    let mut a = std::env::args().skip(1);
    let lang = a.next().unwrap_or_else(|| "fr".into());
    for t in a {
        let v = vigie_sentiment::FastModel::shipped().predict(&t, &lang);
        let p = vigie_sentiment::FastModel::shipped().probabilities(&t, &lang);
        println!(
            "{t:?}\n  {p:?}\n  {}",
            serde_json::to_string(&v).unwrap_or_default()
        );
    }
}
