//! The eval report as one table, a column per pack. Thresholds are shown
//! in each pack's own metric (a cosine pack's as similarities).

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use facerec_vision::ModelPack;

use super::EvalReport;
use super::metrics::OperatingPoint;

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

pub fn print_table(report: &EvalReport) {
    let sets: Vec<String> = report
        .sets
        .iter()
        .map(|(name, n)| format!("{name} ({n} photos)"))
        .collect();
    println!(
        "labelled sets: {}; {} identities",
        sets.join(", "),
        report.identities
    );
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    let mut header = vec!["measure".to_string()];
    header.extend(report.packs.iter().map(|p| p.pack.to_string()));
    t.set_header(header);
    let packs: Vec<&'static ModelPack> = report
        .packs
        .iter()
        .map(|p| ModelPack::named(p.pack).expect("a pack that ran"))
        .collect();
    let mut row = |name: &str, f: &dyn Fn(usize) -> String| {
        let mut cells = vec![name.to_string()];
        cells.extend((0..report.packs.len()).map(f));
        t.add_row(cells);
    };
    let r = &report.packs;
    let point = |i: usize, p: &OperatingPoint| {
        format!(
            "{:.3}: FNIR {}, FPIR {}",
            packs[i].score_of(p.threshold),
            pct(p.fnir),
            pct(p.fpir)
        )
    };
    row("threshold (pack's metric)", &|i| {
        format!("{:?} {}", r[i].metric, r[i].threshold).to_lowercase()
    });
    row("labelled photos with a face", &|i| {
        let d = &r[i].detection;
        format!("{} / {}", d.photos_with_a_face, d.labelled_photos)
    });
    row("no-face images with a box", &|i| {
        let d = &r[i].detection;
        format!("{} / {}", d.boxes_on_no_face_images.len(), d.no_face_images)
    });
    row("no-face boxes passing the quality gate", &|i| {
        r[i].detection.no_face_boxes_passing_the_gate.to_string()
    });
    row("  of which named at the threshold", &|i| {
        r[i].detection.no_face_boxes_named.len().to_string()
    });
    row("labelled faces the quality gate refuses", &|i| {
        let d = &r[i].detection;
        let total: usize = d.gate_refusals.values().sum();
        let why: Vec<String> = d
            .gate_refusals
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if total == 0 {
            "0".into()
        } else {
            format!("{total} ({})", why.join(", "))
        }
    });
    row("detect per photo (median)", &|i| {
        format!("{:.1} ms", r[i].timing.detect_ms)
    });
    row("chip + embed per face (median)", &|i| {
        format!("{:.1} ms", r[i].timing.embed_ms)
    });
    row("verification pairs (genuine / impostor)", &|i| {
        let v = &r[i].verification;
        format!("{} / {}", v.genuine_pairs, v.impostor_pairs)
    });
    row("accuracy at the threshold", &|i| {
        pct(r[i].verification.at_threshold.accuracy)
    });
    row("FAR / FRR at the threshold", &|i| {
        let a = &r[i].verification.at_threshold;
        format!("{} / {}", pct(a.far), pct(a.frr))
    });
    row("equal error rate (at)", &|i| {
        let e = &r[i].verification.equal_error;
        format!(
            "{} ({:.3})",
            pct((e.far + e.frr) / 2.0),
            packs[i].score_of(e.threshold)
        )
    });
    row("open set: enrolled ids / gallery photos", &|i| {
        let o = &r[i].open_set;
        format!("{} / {}", o.enrolled_identities, o.gallery_photos)
    });
    row("open set: probes (enrolled / strangers)", &|i| {
        let o = &r[i].open_set;
        format!("{} / {}", o.enrolled_probes, o.stranger_probes)
    });
    row("rank-1 identification", &|i| pct(r[i].open_set.rank1));
    row("at FPIR 1%", &|i| point(i, &r[i].open_set.at_fpir_1pct));
    row("at FPIR 0.1%", &|i| point(i, &r[i].open_set.at_fpir_01pct));
    row("at FNIR 2%", &|i| {
        r[i].open_set
            .at_fnir_2pct
            .as_ref()
            .map_or("unreachable".into(), |p| point(i, p))
    });
    row("at the threshold: right / wrong names", &|i| {
        let o = &r[i].open_set;
        format!("{} / {}", o.correctly_named, o.wrongly_named)
    });
    row("at the threshold: strangers named", &|i| {
        let o = &r[i].open_set;
        format!(
            "{} of {} ({})",
            o.strangers_named,
            o.stranger_probes,
            pct(o.at_threshold.fpir)
        )
    });
    println!("{t}");
}
