//! Plugin call overhead: a fresh store and instance per call (as in
//! production), with 1,000 candidates crossing the boundary.

use std::time::Instant;

use facerec_plugin_host::{
    Candidate, Grants, PluginHost, PluginKind, PluginLimits, Query, bundled,
};

use super::{Samples, table};

const CANDIDATES: usize = 1000;

fn candidates() -> Vec<Candidate> {
    (0..CANDIDATES)
        .map(|i| Candidate {
            id: String::new(),
            name: format!("Person Number {i}"),
            wikidata_id: Some(format!("Q{}", 1000 + i)),
            country: Some("RS".into()),
            occupations: vec!["actor".into()],
            sitelinks: Some((i % 200) as u32),
            image_urls: vec![format!(
                "https://commons.wikimedia.org/wiki/Special:FilePath/P{i}.jpg"
            )],
            description: Some("a person".into()),
            attributes: vec![],
        })
        .collect()
}

fn csv_config(people: &[Candidate]) -> String {
    let mut csv = String::from("name,wikidata_id,country,occupations,sitelinks,image_urls\n");
    for c in people {
        csv.push_str(&format!(
            "{},{},RS,actor,{},{}\n",
            c.name,
            c.wikidata_id.as_deref().unwrap_or(""),
            c.sitelinks.unwrap_or(0),
            c.image_urls[0]
        ));
    }
    serde_json::json!({ "csv": csv }).to_string()
}

pub fn run(iterations: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    bundled::install_missing(dir.path())?;
    let host = PluginHost::new(dir.path().to_path_buf(), PluginLimits::default())?;
    let grants = Grants::default();
    let people = candidates();
    let query = |config: String| Query {
        domain: "bench".into(),
        country: Some("RS".into()),
        occupations: vec![],
        limit: CANDIDATES as u32,
        config,
    };

    let t = Instant::now();
    host.load("csv-source", PluginKind::Source)?;
    host.load("sitelinks-filter", PluginKind::Filter)?;
    let first_load = t.elapsed();

    let empty_q = query(r#"{"csv": "name\n"}"#.into());
    let csv_q = query(csv_config(&people));
    let filter_q =
        query(r#"{"expression": "sitelinks >= 50 and occupation in [actor, athlete]"}"#.into());
    let (mut empty, mut source, mut filter) =
        (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..iterations {
        let t = Instant::now();
        host.generate("csv-source", &grants, &empty_q)?;
        empty.push(t.elapsed());
        let t = Instant::now();
        let got = host.generate("csv-source", &grants, &csv_q)?.candidates;
        source.push(t.elapsed());
        anyhow::ensure!(got.len() == CANDIDATES, "csv-source returned {}", got.len());
        let t = Instant::now();
        let decisions = host.filter("sitelinks-filter", &grants, &filter_q, &people)?;
        filter.push(t.elapsed());
        anyhow::ensure!(decisions.len() == CANDIDATES);
    }
    println!(
        "{iterations} calls each; compile of both plugins (first load, cached after): {:.0} ms",
        first_load.as_secs_f64() * 1e3
    );
    let mut t = table(&["call", "p50 ms", "p99 ms"]);
    for (label, s) in [
        ("instantiate + empty call (csv-source, 0 rows)", &empty),
        ("csv-source: parse and return 1,000 candidates", &source),
        (
            "sitelinks-filter: 1,000 candidates in, 1,000 decisions out",
            &filter,
        ),
    ] {
        t.add_row([
            label.to_string(),
            format!("{:.2}", s.percentile(50.0)),
            format!("{:.2}", s.percentile(99.0)),
        ]);
    }
    println!("{t}");
    Ok(())
}
