//! What the people at the table must read aloud or compare at the current
//! step, taken from what the ceremony has recorded: the script's hash at
//! the first step, the HSM's identity beside what the bindings expect, a
//! recombination's result, a key's attributes as read back, its public
//! key's fingerprint, a certificate's hash, the token's inventory. The
//! terminal UI and the headless log show the same list, so a rehearsal
//! without a screen shows them too. Hashes come in hex and in PGP words.

use serde_json::Value;

use super::Session;
use crate::ca::CertProfile;
use crate::script::Action;
use crate::shown::shown;
use crate::transcript::pgp_words;

/// One value to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    pub label: String,
    pub value: String,
    /// A hash in PGP words, to read aloud.
    pub words: Option<String>,
}

impl Compared {
    fn text(label: &str, value: impl Into<String>) -> Compared {
        Compared {
            label: label.to_string(),
            value: shown(&value.into()).into_owned(),
            words: None,
        }
    }

    fn hash(label: &str, hex_digest: &str) -> Compared {
        Compared {
            label: label.to_string(),
            value: shown(hex_digest).into_owned(),
            words: hex::decode(hex_digest).ok().map(|b| pgp_words(&b)),
        }
    }
}

/// The values of the current step, in the order people meet them.
pub fn current(session: &Session) -> Vec<Compared> {
    let engine = session.engine();
    let step = engine.current();
    let ceremony = session.ceremony();
    let mut out = Vec::new();
    if step.number == 1 {
        out.push(Compared::hash(
            "script SHA-256",
            &hex::encode(ceremony.script.sha256),
        ));
        out.push(Compared::hash(
            "bindings SHA-256",
            &hex::encode(ceremony.bindings.sha256),
        ));
    }
    if let Some(script_step) = ceremony.script.value.steps.get(step.number - 1) {
        profile(script_step.action(), &mut out);
    }
    for note in session.notes() {
        if note.body["step"].as_str() == Some(step.id.as_str()) {
            of_entry(&note.kind, &note.body, session, &mut out);
        }
    }
    out
}

/// What a signing step will sign, from the reviewed script: shown before
/// anyone types the word, so the room compares it with the paper script.
fn profile(action: Action, out: &mut Vec<Compared>) {
    let cert = |p: &CertProfile, out: &mut Vec<Compared>| {
        out.push(Compared::text("profile: subject", p.subject.clone()));
        out.push(Compared::text(
            "profile: validity",
            format!("{} days from signing", p.validity_days),
        ));
        out.push(Compared::text(
            "profile: path length",
            p.path_length
                .map_or("unlimited".to_string(), |n| n.to_string()),
        ));
        out.push(Compared::text(
            "profile: key usage",
            p.key_usage
                .iter()
                .map(|u| kebab(&format!("{u:?}")))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    };
    match action {
        Action::RootCertificate(a) => cert(&a.profile, out),
        Action::SignCsr(a) => {
            cert(&a.policy.profile, out);
            out.push(Compared::text(
                "profile: keys allowed",
                a.policy
                    .allowed_keys
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        Action::Crl(a) => {
            out.push(Compared::text(
                "profile: CRL number",
                a.profile.number.to_string(),
            ));
            out.push(Compared::text(
                "profile: next update",
                format!("{} days from signing", a.profile.next_update_days),
            ));
            out.push(Compared::text(
                "profile: revoked",
                if a.profile.revoked.is_empty() {
                    "none".to_string()
                } else {
                    a.profile
                        .revoked
                        .iter()
                        .map(|r| format!("{} ({})", r.serial, kebab(&format!("{:?}", r.reason))))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ));
        }
        _ => {}
    }
}

/// `CertSign` as the script spells it: `cert-sign`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

fn string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn of_entry(kind: &str, body: &Value, session: &Session, out: &mut Vec<Compared>) {
    match kind {
        "check-hsm" => {
            let token = &body["token"];
            let expect = session.ceremony().bindings.value.hsm.expect.as_ref();
            let expected = |field: Option<&String>| {
                field.map_or(String::new(), |e| format!("   (bindings expect: {e})"))
            };
            out.push(Compared::text(
                "manufacturer",
                format!(
                    "{}{}",
                    string(&token["manufacturer"]),
                    expected(expect.and_then(|e| e.manufacturer.as_ref()))
                ),
            ));
            out.push(Compared::text(
                "model",
                format!(
                    "{}{}",
                    string(&token["model"]),
                    expected(expect.and_then(|e| e.model.as_ref()))
                ),
            ));
            out.push(Compared::text(
                "serial",
                format!(
                    "{}{}",
                    string(&token["serial"]),
                    expected(expect.and_then(|e| e.serial.as_ref()))
                ),
            ));
            out.push(Compared::text(
                "firmware",
                string(&token["firmware_version"]),
            ));
        }
        "recombine" => {
            let matched = body["check_value_matches"] == true;
            out.push(Compared::text(
                "recombined",
                format!(
                    "`{}` from {}; check value {}{}",
                    string(&body["secret_name"]),
                    body["custodians"]
                        .as_array()
                        .map(|c| c.iter().map(string).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default(),
                    if matched { "matched" } else { "DID NOT MATCH" },
                    match body["login"].as_str() {
                        Some(role) => format!("; {role} login succeeded"),
                        None => String::new(),
                    }
                ),
            ));
        }
        "generate-key" => {
            let a = &body["attributes"];
            let flags = [
                "token",
                "private",
                "sensitive",
                "extractable",
                "never_extractable",
                "always_sensitive",
                "local",
                "modifiable",
                "sign",
                "decrypt",
                "unwrap",
                "derive",
            ]
            .iter()
            .filter(|f| !a[**f].is_null())
            .map(|f| format!("{f}={}", a[*f]))
            .collect::<Vec<_>>()
            .join(" ");
            out.push(Compared::text(
                "read back",
                format!(
                    "{} {} {}: {flags}",
                    string(&a["class"]),
                    string(&a["key_type"]),
                    string(&a["curve"])
                ),
            ));
            out.push(Compared::text("CKA_ID", string(&body["id"])));
        }
        "export-public-key" => {
            let key = &body["public_key"];
            out.push(Compared::hash(
                "public key (SPKI) SHA-256",
                &string(&key["spki_sha256"]),
            ));
            out.push(Compared::hash("file SHA-256", &string(&key["file_sha256"])));
        }
        "root-certificate" | "sign-csr" | "crl" => {
            out.push(Compared::hash(
                &format!("{kind} SHA-256"),
                &string(&body["sha256"]),
            ));
            if !body["serial"].is_null() {
                out.push(Compared::text("serial", string(&body["serial"])));
            }
            if !body["not_before"].is_null() {
                out.push(Compared::text(
                    "valid",
                    format!(
                        "{} to {}",
                        string(&body["not_before"]),
                        string(&body["not_after"])
                    ),
                ));
            }
        }
        "list-objects" => {
            let objects = body["objects"].as_array().cloned().unwrap_or_default();
            out.push(Compared::text(
                "objects on the token",
                format!(
                    "{}: {}",
                    objects.len(),
                    objects
                        .iter()
                        .map(|o| format!("{} {}", string(&o["class"]), string(&o["label"])))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        _ => {}
    }
}

/// The values as lines of text, for the headless log and the screen.
pub fn lines(values: &[Compared]) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        out.push(format!("{}: {}", v.label, v.value));
        if let Some(words) = &v.words {
            out.push(format!("  in words: {words}"));
        }
    }
    out
}
