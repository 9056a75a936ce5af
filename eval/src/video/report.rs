//! The video report as one table, a row per clip and a total.

use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};

use super::VideoReport;

pub fn print_table(report: &VideoReport) {
    println!(
        "pack {}; gallery: {} people, {} photos, {} faces enrolled",
        report.pack, report.gallery_people, report.gallery_photos, report.enrolled_faces
    );
    let mut t = Table::new();
    t.load_preset(UTF8_BORDERS_ONLY);
    t.set_header(vec![
        "clip",
        "frames",
        "appearances",
        "wrong-name frames",
        "wrong-name events",
        "switches (max/person)",
        "fragments",
        "time to name max (mean)",
        "missed",
        "spurious tracks",
        "tracks lost by",
        "ms/frame",
    ]);
    let secs = |v: Option<f32>| v.map_or("–".to_string(), |s| format!("{s:.1} s"));
    for c in &report.clips {
        let lost: Vec<String> = c
            .lost_reasons
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        t.add_row(vec![
            c.clip.clone(),
            c.frames.to_string(),
            c.appearances.to_string(),
            c.wrong_name_frames.to_string(),
            c.wrong_name_events.to_string(),
            format!("{} ({})", c.identity_switches, c.max_switches_per_person),
            c.fragmented_tracks.to_string(),
            format!(
                "{} ({})",
                secs(c.max_time_to_name_s),
                secs(c.mean_time_to_name_s)
            ),
            c.missed.len().to_string(),
            c.spurious_tracks.to_string(),
            lost.join(", "),
            format!("{:.0}", c.ms_per_frame),
        ]);
    }
    let sum =
        |f: &dyn Fn(&super::ClipScore) -> usize| -> usize { report.clips.iter().map(f).sum() };
    t.add_row(vec![
        "total".to_string(),
        sum(&|c| c.frames).to_string(),
        sum(&|c| c.appearances).to_string(),
        sum(&|c| c.wrong_name_frames).to_string(),
        sum(&|c| c.wrong_name_events).to_string(),
        format!(
            "{} ({})",
            sum(&|c| c.identity_switches),
            report
                .clips
                .iter()
                .map(|c| c.max_switches_per_person)
                .max()
                .unwrap_or(0)
        ),
        sum(&|c| c.fragmented_tracks).to_string(),
        secs(
            report
                .clips
                .iter()
                .filter_map(|c| c.max_time_to_name_s)
                .reduce(f32::max),
        ),
        sum(&|c| c.missed.len()).to_string(),
        sum(&|c| c.spurious_tracks).to_string(),
        String::new(),
        String::new(),
    ]);
    println!("{t}");
    for c in &report.clips {
        for m in &c.missed {
            println!("{}: missed {m}", c.clip);
        }
        for w in &c.wrong_names {
            println!("{}: {w}", c.clip);
        }
        if !c.gate_refusals.is_empty() {
            let r: Vec<String> = c
                .gate_refusals
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            println!(
                "{}: faces kept from voting by the quality gate: {}",
                c.clip,
                r.join(", ")
            );
        }
    }
}
