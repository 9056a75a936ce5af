//! Building the SPARQL query and reading Wikidata's JSON results.

use std::collections::BTreeMap;

use facerec_plugin_sdk::{Candidate, HttpError};
use serde::Deserialize;

/// Common occupation labels and their Wikidata items.
const KNOWN_OCCUPATIONS: &[(&str, &str)] = &[
    ("actor", "Q33999"),
    ("athlete", "Q2066131"),
    ("basketball player", "Q3665646"),
    ("basketball_player", "Q3665646"),
    ("film director", "Q2526255"),
    ("footballer", "Q937857"),
    ("association football player", "Q937857"),
    ("journalist", "Q1930187"),
    ("musician", "Q639669"),
    ("politician", "Q82955"),
    ("singer", "Q177220"),
    ("television presenter", "Q947873"),
    ("tennis player", "Q10833314"),
    ("tennis_player", "Q10833314"),
    ("writer", "Q36180"),
];

fn is_item(s: &str) -> bool {
    s.len() > 1 && s.len() <= 12 && s.starts_with('Q') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// `Q33999` as is, or a label from the built-in table or the config.
pub fn occupation_item(label: &str, extra: &BTreeMap<String, String>) -> Result<String, String> {
    let label = label.trim();
    if is_item(label) {
        return Ok(label.to_string());
    }
    let lower = label.to_ascii_lowercase();
    extra
        .get(&lower)
        .map(String::as_str)
        .or_else(|| KNOWN_OCCUPATIONS.iter().find(|(l, _)| *l == lower).map(|(_, q)| *q))
        .filter(|q| is_item(q))
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "unknown occupation {label:?}: use a Wikidata item (e.g. Q33999 for actor) or map it in occupation_ids"
            )
        })
}

pub fn build(
    country: &str,
    occupations: &[String],
    language: &str,
    limit: u32,
) -> Result<String, String> {
    let country_clause = if is_item(country) {
        format!("VALUES ?country {{ wd:{country} }}")
    } else if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
        format!("?country wdt:P297 \"{country}\" .")
    } else {
        return Err(format!(
            "country {country:?} is neither an ISO 3166-1 alpha-2 code nor a Wikidata item"
        ));
    };
    if !language
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b',')
    {
        return Err(format!(
            "language {language:?} is not a list of language codes"
        ));
    }
    let occupation_clause = if occupations.is_empty() {
        String::new()
    } else {
        let items: Vec<String> = occupations.iter().map(|q| format!("wd:{q}")).collect();
        format!(
            "?person wdt:P106 ?occ . VALUES ?occ {{ {} }}",
            items.join(" ")
        )
    };
    Ok(format!(
        "SELECT ?person ?personLabel ?personDescription ?sitelinks ?image ?occupationLabel WHERE {{\n\
         {{ SELECT DISTINCT ?person ?sitelinks WHERE {{\n\
           ?person wdt:P31 wd:Q5 ; wdt:P27 ?country ; wikibase:sitelinks ?sitelinks .\n\
           {country_clause}\n\
           {occupation_clause}\n\
         }} ORDER BY DESC(?sitelinks) LIMIT {limit} }}\n\
         OPTIONAL {{ ?person wdt:P18 ?image . }}\n\
         OPTIONAL {{ ?person wdt:P106 ?occupation . }}\n\
         SERVICE wikibase:label {{ bd:serviceParam wikibase:language \"{language},en\". }}\n\
         }}"
    ))
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn describe(e: &HttpError) -> String {
    match e {
        HttpError::Denied(why) => format!("request denied by the host: {why}"),
        HttpError::Timeout => "request timed out".into(),
        HttpError::TooLarge(cap) => format!("response larger than the host's cap of {cap} bytes"),
        HttpError::Failed(why) => format!("request failed: {why}"),
    }
}

#[derive(Deserialize)]
struct Response {
    results: Results,
}
#[derive(Deserialize)]
struct Results {
    bindings: Vec<BTreeMap<String, Value>>,
}
#[derive(Deserialize)]
struct Value {
    value: String,
}

/// Rows (one per person × image × occupation) folded into one candidate
/// per person, most sitelinks first.
pub fn parse_results(body: &[u8], country: &str) -> Result<Vec<Candidate>, String> {
    let response: Response =
        serde_json::from_slice(body).map_err(|e| format!("unexpected SPARQL answer: {e}"))?;
    let mut order: Vec<String> = Vec::new();
    let mut people: BTreeMap<String, Candidate> = BTreeMap::new();
    for row in response.results.bindings {
        let get = |k: &str| row.get(k).map(|v| v.value.clone());
        let Some(uri) = get("person") else { continue };
        let Some(qid) = uri
            .rsplit('/')
            .next()
            .filter(|q| is_item(q))
            .map(str::to_string)
        else {
            continue;
        };
        let c = people.entry(qid.clone()).or_insert_with(|| {
            order.push(qid.clone());
            let mut c = Candidate::named(&get("personLabel").unwrap_or_else(|| qid.clone()));
            c.wikidata_id = Some(qid.clone());
            c.country = Some(country.to_string());
            c.description = get("personDescription");
            c.sitelinks = get("sitelinks").and_then(|s| s.parse().ok());
            c
        });
        if let Some(image) = get("image") {
            let image = image.replacen("http://", "https://", 1);
            if !c.image_urls.contains(&image) {
                c.image_urls.push(image);
            }
        }
        if let Some(occupation) = get("occupationLabel") {
            if !c.occupations.contains(&occupation) && c.occupations.len() < 16 {
                c.occupations.push(occupation);
            }
        }
    }
    let mut out: Vec<Candidate> = order
        .into_iter()
        .filter_map(|q| people.remove(&q))
        .collect();
    // A label the service could not resolve comes back as the item id.
    out.retain(|c| !c.name.is_empty());
    out.sort_by_key(|c| std::cmp::Reverse(c.sitelinks.unwrap_or(0)));
    Ok(out)
}
