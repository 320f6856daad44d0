//! The ceremony report (ETSI EN 319 411-1 and CA/B Forum BR 6.1.1.1 ask
//! for one): built once as a small document, then written as Markdown or
//! as one self-contained, print-friendly HTML file. Every piece of text
//! from the transcript is escaped for the format it lands in.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::verdict::{CheckpointStatus, Status, Verdict};
use crate::identity::PublicIdentity;
use crate::transcript::{CloseOutcome, Outcome, pgp_words};

/// The two report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
}

/// Why no report was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("refusing to report on a transcript that does not verify: {0}")]
    NotVerified(String),
}

enum Block {
    Text(String),
    /// Label and value pairs.
    Fields(Vec<(String, String)>),
    Table(Vec<&'static str>, Vec<Vec<String>>),
    /// One signature block per (name, role).
    Signatures(Vec<(String, String)>),
}

struct Doc {
    title: String,
    banner: Option<String>,
    sections: Vec<(&'static str, Vec<Block>)>,
}

const TIME: &str = "%Y-%m-%d %H:%M:%S UTC";

/// Renders the report of a verified (or, with a banner, incomplete)
/// transcript; a tampered one is refused.
pub fn render(verdict: &Verdict, format: Format) -> Result<String, RenderError> {
    let doc = build(verdict)?;
    let text = match format {
        Format::Markdown => markdown(&doc),
        Format::Html => html(&doc),
    };
    // Each value is escaped where it lands; this is the guard behind them.
    Ok(crate::shown::shown_lines(&text).into_owned())
}

fn build(verdict: &Verdict) -> Result<Doc, RenderError> {
    let status = verdict.status();
    let summary = match (&verdict.outcome, &verdict.violation) {
        (Outcome::Tampered(v), _) | (_, Some(v)) => {
            return Err(RenderError::NotVerified(v.to_string()));
        }
        (Outcome::Valid(s), None) | (Outcome::Incomplete(s, _), None) => s,
    };
    let facts = &verdict.facts;
    let g = &summary.genesis;
    let banner = match &verdict.outcome {
        Outcome::Incomplete(_, why) => Some(format!(
            "INCOMPLETE TRANSCRIPT — NOT EVIDENCE OF A FINISHED CEREMONY. {why}. This report covers only the {} lines that verify.",
            summary.entries
        )),
        _ => None,
    };
    let outcome = match &summary.closed {
        Some(CloseOutcome::Completed) => "completed".to_owned(),
        Some(CloseOutcome::Aborted { reason }) => format!("ABORTED: {reason}"),
        None => "not closed".to_owned(),
    };
    let checkpoint = match &verdict.checkpoint {
        CheckpointStatus::Checked { path, checked } => format!(
            "{} verified: {} lines, root {}, signed by the ceremony key, cosigned by {}{}",
            path.display(),
            checked.checkpoint.size,
            STANDARD.encode(checked.checkpoint.root),
            if checked.cosigned_by.is_empty() {
                "no one".to_owned()
            } else {
                checked.cosigned_by.join(", ")
            },
            if checked.not_cosigned.is_empty() {
                String::new()
            } else {
                format!(
                    "; not cosigned by {} (never signed in)",
                    checked.not_cosigned.join(", ")
                )
            }
        ),
        _ => "NOT checked: no checkpoint given or found beside the transcript".to_owned(),
    };
    let script_check = match &verdict.script {
        Some((path, _)) => format!(
            "{} matches the genesis; steps ran in its order; required roles and quorums acted",
            path.display()
        ),
        None => "not checked against a script file (run verify --script)".to_owned(),
    };
    let mut verdict_fields = vec![
        (
            "Transcript".into(),
            verdict.transcript.display().to_string(),
        ),
        ("Verdict".into(), status.as_str().to_uppercase()),
        ("Outcome".into(), outcome),
        ("Checkpoint".into(), checkpoint),
        ("Script file".into(), script_check),
        (
            "Keys held".into(),
            super::key_custody(g.participant_keys).to_owned(),
        ),
    ];
    if let Some(declared) = &facts.recording {
        let r = &declared.recording;
        verdict_fields.push((
            "Screen recording".into(),
            format!(
                "{}, {} bytes, SHA-256 {}, declared by the close (line {}): check a copy with keyceremony verify --recording FILE{}",
                r.file,
                r.bytes,
                r.sha256,
                declared.line,
                r.error
                    .as_ref()
                    .map(|e| format!("; it STOPPED EARLY: {e}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let mut sections = Vec::new();
    sections.push(("Verdict", vec![Block::Fields(verdict_fields)]));
    sections.push((
        "Ceremony",
        vec![Block::Fields(vec![
            ("Ceremony id".into(), g.ceremony_id.clone()),
            ("Mode".into(), g.mode.to_string()),
            (
                "Script".into(),
                format!(
                    "{} version {} — {}",
                    g.script.id, g.script.version, g.script.title
                ),
            ),
            ("Script SHA-256".into(), g.script.sha256.clone()),
            (
                "Script SHA-256 in words".into(),
                words_of_hex(&g.script.sha256),
            ),
            ("Bindings SHA-256".into(), g.bindings_sha256.clone()),
            (
                "Tool".into(),
                format!(
                    "{} {} (binary SHA-256 {})",
                    g.tool.name, g.tool.version, g.tool.binary_sha256
                ),
            ),
            ("Entries".into(), summary.entries.to_string()),
            ("Started".into(), summary.started.format(TIME).to_string()),
            (
                "Last entry".into(),
                summary.last_time.format(TIME).to_string(),
            ),
            ("Final head".into(), summary.head.hex()),
            ("Final head in words".into(), summary.head.words()),
        ])],
    ));
    let people = g
        .roster
        .iter()
        .map(|p| {
            let signed_in = facts.sign_ins.iter().find(|s| s.name == p.name);
            vec![
                p.name.clone(),
                p.role.as_str().to_owned(),
                PublicIdentity::from_openssh(&p.ssh_key)
                    .map(|i| i.fingerprint())
                    .unwrap_or_default(),
                signed_in.map_or("never".into(), |s| {
                    format!("{} (line {})", s.time.format(TIME), s.line)
                }),
            ]
        })
        .collect();
    sections.push((
        "Roles and people",
        vec![Block::Table(
            vec!["Name", "Role", "SSH key", "Signed in"],
            people,
        )],
    ));
    let materials: Vec<Vec<String>> = facts
        .materials
        .iter()
        .map(|m| {
            vec![
                m.step.clone(),
                m.line.to_string(),
                m.direction.clone(),
                m.id.clone(),
                m.number.clone(),
                m.sealed.clone().unwrap_or_else(|| "—".into()),
            ]
        })
        .collect();
    if !materials.is_empty() {
        sections.push((
            "Materials",
            vec![Block::Table(
                vec![
                    "Step",
                    "Line",
                    "Direction",
                    "Material",
                    "Number",
                    "New seal",
                ],
                materials,
            )],
        ));
    }
    let hsm: Vec<Vec<String>> = facts
        .hsm
        .iter()
        .flat_map(|h| {
            h.fields
                .iter()
                .map(move |(k, v)| vec![h.step.clone(), h.line.to_string(), k.clone(), v.clone()])
        })
        .collect();
    sections.push((
        "HSM identity",
        if hsm.is_empty() {
            vec![Block::Text(
                "The transcript records no HSM identity.".into(),
            )]
        } else {
            vec![Block::Table(vec!["Step", "Line", "Field", "Value"], hsm)]
        },
    ));
    let mut steps: Vec<(u64, Vec<String>)> = facts
        .acts
        .iter()
        .map(|a| {
            (
                a.line,
                vec![
                    a.number.to_string(),
                    a.step.clone(),
                    a.capacity.clone(),
                    a.actor.clone(),
                    a.time.format(TIME).to_string(),
                    a.line.to_string(),
                ],
            )
        })
        .collect();
    steps.extend(facts.attestations.iter().map(|a| {
        let names: Vec<&str> = a.signers.iter().map(|(n, _)| n.as_str()).collect();
        (
            a.line,
            vec![
                String::new(),
                "attestation".into(),
                "attested".into(),
                names.join(", "),
                a.time.format(TIME).to_string(),
                a.line.to_string(),
            ],
        )
    }));
    steps.sort_by_key(|(line, _)| *line);
    sections.push((
        "Steps",
        vec![Block::Table(
            vec!["#", "Step", "As", "Who", "Time", "Line"],
            steps.into_iter().map(|(_, r)| r).collect(),
        )],
    ));
    let keys = facts
        .keys
        .iter()
        .map(|k| {
            vec![
                k.label.clone(),
                k.algorithm.clone(),
                k.spki_sha256.clone(),
                words_of_hex(&k.spki_sha256),
                k.file.clone().unwrap_or_default(),
            ]
        })
        .collect::<Vec<_>>();
    sections.push(("Keys", if keys.is_empty() {
        vec![Block::Text("No key was generated.".into())]
    } else {
        vec![
            Block::Text("Fingerprint: SHA-256 of the public key's DER SubjectPublicKeyInfo; read it aloud in PGP words.".into()),
            Block::Table(vec!["Label", "Algorithm", "Fingerprint (hex)", "Fingerprint (PGP words)", "File"], keys),
        ]
    }));
    sections.push((
        "Exceptions and incidents",
        if facts.incident_log.is_empty() {
            vec![Block::Text("None recorded.".into())]
        } else {
            vec![Block::Table(
                vec!["Line", "Time", "What happened"],
                facts
                    .incident_log
                    .iter()
                    .map(|i| {
                        vec![
                            i.line.to_string(),
                            i.time.format(TIME).to_string(),
                            i.text.clone(),
                        ]
                    })
                    .collect(),
            )]
        },
    ));
    sections.push((
        "Attestations",
        if facts.attestations.is_empty() {
            vec![Block::Text("No attestation recorded.".into())]
        } else {
            vec![Block::Table(
                vec!["Line", "Time", "Head signed", "By"],
                facts
                    .attestations
                    .iter()
                    .map(|a| {
                        vec![
                            a.line.to_string(),
                            a.time.format(TIME).to_string(),
                            a.head_hex.clone(),
                            a.signers
                                .iter()
                                .map(|(n, r)| format!("{n} ({})", r.as_str()))
                                .collect::<Vec<_>>()
                                .join(", "),
                        ]
                    })
                    .collect(),
            )]
        },
    ));
    sections.push((
        "Signatures",
        vec![
            Block::Text(format!(
                "We attest that this report is a true account of ceremony {} as we witnessed it.",
                g.ceremony_id
            )),
            Block::Signatures(
                g.roster
                    .iter()
                    .map(|p| (p.name.clone(), p.role.as_str().to_owned()))
                    .collect(),
            ),
        ],
    ));
    Ok(Doc {
        title: format!("Key ceremony report: {}", g.ceremony_id),
        banner,
        sections,
    })
}

fn words_of_hex(text: &str) -> String {
    hex::decode(text).map(|b| pgp_words(&b)).unwrap_or_default()
}

/// Text from a transcript never carries control characters into a report.
fn clean(text: &str) -> String {
    crate::shown::shown(text).into_owned()
}

fn md(text: &str) -> String {
    let mut out = String::new();
    for c in clean(text).chars() {
        if "\\`*_[]<>|~&#".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn markdown(doc: &Doc) -> String {
    let mut out = format!("# {}\n\n", md(&doc.title));
    if let Some(banner) = &doc.banner {
        let _ = writeln!(out, "> **{}**\n", md(banner));
    }
    for (heading, blocks) in &doc.sections {
        let _ = writeln!(out, "## {heading}\n");
        for block in blocks {
            match block {
                Block::Text(t) => {
                    let _ = writeln!(out, "{}\n", md(t));
                }
                Block::Fields(fields) => {
                    for (k, v) in fields {
                        let _ = writeln!(out, "- **{}:** {}", md(k), md(v));
                    }
                    out.push('\n');
                }
                Block::Table(head, rows) => {
                    let _ = writeln!(out, "| {} |", head.join(" | "));
                    let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
                    for row in rows {
                        let cells: Vec<String> = row.iter().map(|c| md(c)).collect();
                        let _ = writeln!(out, "| {} |", cells.join(" | "));
                    }
                    out.push('\n');
                }
                Block::Signatures(people) => {
                    for (name, role) in people {
                        let _ = writeln!(
                            out,
                            "**{}** ({})\n\nSignature: ______________________________  Date: ______________\n",
                            md(name),
                            md(role)
                        );
                    }
                }
            }
        }
    }
    out
}

fn h(text: &str) -> String {
    let mut out = String::new();
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "body{font-family:Georgia,serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#000}\
h1{font-size:1.6rem}h2{font-size:1.2rem;border-bottom:1px solid #000;margin-top:2rem}\
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border:1px solid #666;padding:.2rem .4rem;text-align:left;vertical-align:top;word-break:break-word}\
dt{font-weight:bold}dd{margin:0 0 .4rem 1rem;word-break:break-all}\
.banner{border:4px solid #b00;color:#b00;font-weight:bold;padding:1rem;font-size:1.2rem}\
.sig{display:inline-block;width:45%;margin:1.5rem 2% 0 0;break-inside:avoid}.line{border-bottom:1px solid #000;height:2.5rem}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

fn html(doc: &Doc) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        h(&doc.title),
        h(&doc.title)
    );
    if let Some(banner) = &doc.banner {
        let _ = writeln!(out, "<p class=\"banner\">{}</p>", h(banner));
    }
    for (heading, blocks) in &doc.sections {
        let _ = writeln!(out, "<h2>{}</h2>", h(heading));
        for block in blocks {
            match block {
                Block::Text(t) => {
                    let _ = writeln!(out, "<p>{}</p>", h(t));
                }
                Block::Fields(fields) => {
                    out.push_str("<dl>");
                    for (k, v) in fields {
                        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", h(k), h(v));
                    }
                    out.push_str("</dl>\n");
                }
                Block::Table(head, rows) => {
                    out.push_str("<table><thead><tr>");
                    for cell in head {
                        let _ = write!(out, "<th>{}</th>", h(cell));
                    }
                    out.push_str("</tr></thead><tbody>\n");
                    for row in rows {
                        out.push_str("<tr>");
                        for cell in row {
                            let _ = write!(out, "<td>{}</td>", h(cell));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody></table>\n");
                }
                Block::Signatures(people) => {
                    for (name, role) in people {
                        let _ = writeln!(
                            out,
                            "<div class=\"sig\"><div class=\"line\"></div>{} ({}) — signature and date</div>",
                            h(name),
                            h(role)
                        );
                    }
                }
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

impl Status {
    /// Whether a report may be written for this status.
    pub fn reportable(self) -> bool {
        self != Status::Tampered
    }
}
