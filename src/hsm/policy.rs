//! The read-back check after every generation, restore and KEK import: a
//! pure function from a key spec and the attributes the token reports to a
//! verdict, so that a module that silently weakens a template stops the
//! ceremony.

use std::fmt;

use serde::Serialize;

use super::attributes::KeyAttributes;
use super::spec::{Backup, KeySpec, UsageFlags};

/// What a generated key must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    spec: KeySpec,
    rules: Vec<Rule>,
}

/// One expectation on one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// CKA_* name, or "key size" / "curve".
    pub attribute: &'static str,
    pub expected: Expected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expected {
    /// The attribute must be reported with this value.
    Flag(bool),
    /// A usage the key must not have: false, or not reported because
    /// PKCS#11 does not define it for the object's class (CKA_SIGN_RECOVER
    /// on a secret key).
    FalseOrAbsent,
    /// A text value (class, key type, curve).
    Text(String),
    /// A size in bits.
    Bits(u64),
}

/// An attribute whose read-back value differs from the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub attribute: String,
    pub expected: String,
    pub found: String,
}

/// Every mismatch found in one check (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct PolicyViolation {
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, mismatch) in self.mismatches.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{} expected {}, found {}",
                mismatch.attribute, mismatch.expected, mismatch.found
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Flag(value) => write!(f, "{value}"),
            Expected::FalseOrAbsent => f.write_str("false"),
            Expected::Text(text) => f.write_str(text),
            Expected::Bits(bits) => write!(f, "{bits} bits"),
        }
    }
}

impl KeyPolicy {
    /// The policy for keys generated from `spec`: on the token, private,
    /// sensitive, generated on the token, not modifiable, not trusted,
    /// exactly the usages of the spec, and the right type and size.
    ///
    /// With [`Backup::None`] the key is never extractable. With
    /// [`Backup::Wrapped`] it is extractable only under a trusted key
    /// (CKA_EXTRACTABLE and CKA_WRAP_WITH_TRUSTED true, so
    /// CKA_NEVER_EXTRACTABLE false), and nothing weaker.
    pub fn for_spec(spec: &KeySpec) -> KeyPolicy {
        let extractable = spec.backup == Backup::Wrapped;
        let wrap_with_trusted = if extractable {
            Expected::Flag(true)
        } else {
            Expected::FalseOrAbsent
        };
        KeyPolicy::with_lifecycle(
            spec,
            [
                ("CKA_EXTRACTABLE", Expected::Flag(extractable)),
                ("CKA_ALWAYS_SENSITIVE", Expected::Flag(true)),
                ("CKA_NEVER_EXTRACTABLE", Expected::Flag(!extractable)),
                ("CKA_LOCAL", Expected::Flag(true)),
                ("CKA_WRAP_WITH_TRUSTED", wrap_with_trusted),
            ],
        )
    }

    /// The policy for a key unwrapped from a backup: as a fresh
    /// non-extractable key of `spec` (its backup is ignored), except that
    /// the token knows the key came from outside. CKA_LOCAL,
    /// CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE are then false, and
    /// are expected to be exactly that: a token reporting true would be
    /// misreporting the key's history.
    pub fn for_restored(spec: &KeySpec) -> KeyPolicy {
        KeyPolicy::with_lifecycle(
            spec,
            [
                ("CKA_EXTRACTABLE", Expected::Flag(false)),
                ("CKA_ALWAYS_SENSITIVE", Expected::Flag(false)),
                ("CKA_NEVER_EXTRACTABLE", Expected::Flag(false)),
                ("CKA_LOCAL", Expected::Flag(false)),
                ("CKA_WRAP_WITH_TRUSTED", Expected::FalseOrAbsent),
            ],
        )
    }

    /// The rules every policy shares, with the attributes that tell the
    /// key's history (generated or restored, extractable or not).
    fn with_lifecycle(spec: &KeySpec, lifecycle: [(&'static str, Expected); 5]) -> KeyPolicy {
        let algorithm = spec.algorithm;
        let class = if algorithm.is_asymmetric() {
            "CKO_PRIVATE_KEY"
        } else {
            "CKO_SECRET_KEY"
        };
        let mut rules = vec![
            Rule::text("CKA_CLASS", class),
            Rule::text("CKA_KEY_TYPE", algorithm.key_type_name()),
        ];
        if let Some(curve) = algorithm.curve() {
            rules.push(Rule::text("curve", curve));
        }
        if let Some(bits) = algorithm.rsa_bits() {
            rules.push(Rule::bits(bits));
        }
        if !algorithm.is_asymmetric() {
            rules.push(Rule::bits(256));
        }
        for (attribute, value) in [
            ("CKA_TOKEN", true),
            ("CKA_PRIVATE", true),
            ("CKA_SENSITIVE", true),
            ("CKA_MODIFIABLE", false),
        ] {
            rules.push(Rule::flag(attribute, value));
        }
        for (attribute, expected) in lifecycle {
            rules.push(Rule {
                attribute,
                expected,
            });
        }
        // A trusted key could wrap every WRAP_WITH_TRUSTED key out of the
        // token; only the backup KEK may be one.
        rules.push(Rule {
            attribute: "CKA_TRUSTED",
            expected: Expected::FalseOrAbsent,
        });
        rules.extend(usage_rules(&spec.private_usage()));
        KeyPolicy {
            spec: spec.clone(),
            rules,
        }
    }

    pub fn spec(&self) -> &KeySpec {
        &self.spec
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Compares the read-back attributes with every rule; reports all
    /// mismatches at once so one look shows what the module changed.
    pub fn check(&self, attributes: &KeyAttributes) -> Result<(), PolicyViolation> {
        check_rules(&self.rules, attributes)
    }
}

/// What the trusted backup KEK must look like after its import: a public
/// (the security officer cannot create private objects), sensitive,
/// non-extractable, unmodifiable, trusted AES-256 key that can only wrap
/// and unwrap. CKA_LOCAL, CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE
/// tell only that it was imported; they are recorded, not checked.
pub(crate) fn trusted_kek_rules() -> Vec<Rule> {
    let mut rules = vec![
        Rule::text("CKA_CLASS", "CKO_SECRET_KEY"),
        Rule::text("CKA_KEY_TYPE", "CKK_AES"),
        Rule::bits(256),
    ];
    for (attribute, value) in [
        ("CKA_TOKEN", true),
        ("CKA_PRIVATE", false),
        ("CKA_SENSITIVE", true),
        ("CKA_EXTRACTABLE", false),
        ("CKA_MODIFIABLE", false),
        ("CKA_TRUSTED", true),
    ] {
        rules.push(Rule::flag(attribute, value));
    }
    rules.extend(usage_rules(&UsageFlags {
        wrap: true,
        unwrap: true,
        ..UsageFlags::default()
    }));
    rules
}

/// Compares the read-back attributes with every rule; reports all
/// mismatches at once.
pub(crate) fn check_rules(
    rules: &[Rule],
    attributes: &KeyAttributes,
) -> Result<(), PolicyViolation> {
    let flags = attributes.flags();
    let mismatches: Vec<Mismatch> = rules
        .iter()
        .filter_map(|rule| {
            let found = match rule.attribute {
                "CKA_CLASS" => Found::Text(Some(attributes.class.as_str())),
                "CKA_KEY_TYPE" => Found::Text(Some(attributes.key_type.as_str())),
                "curve" => Found::Text(attributes.curve.as_deref()),
                "key size" => Found::Bits(attributes.bits),
                name => Found::Flag(
                    flags
                        .iter()
                        .find(|(flag, _)| *flag == name)
                        .and_then(|(_, value)| *value),
                ),
            };
            (!found.satisfies(&rule.expected)).then(|| Mismatch {
                attribute: rule.attribute.to_owned(),
                expected: rule.expected.to_string(),
                found: found.to_string(),
            })
        })
        .collect();
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(PolicyViolation { mismatches })
    }
}

/// A usage the key needs must be true; every other must be false or not
/// defined for the class.
fn usage_rules(usage: &UsageFlags) -> impl Iterator<Item = Rule> {
    usage_flags(usage)
        .into_iter()
        .map(|(attribute, allowed)| Rule {
            attribute,
            expected: if allowed {
                Expected::Flag(true)
            } else {
                Expected::FalseOrAbsent
            },
        })
}

impl Rule {
    fn text(attribute: &'static str, value: &str) -> Rule {
        Rule {
            attribute,
            expected: Expected::Text(value.to_owned()),
        }
    }

    fn flag(attribute: &'static str, value: bool) -> Rule {
        Rule {
            attribute,
            expected: Expected::Flag(value),
        }
    }

    fn bits(bits: u64) -> Rule {
        Rule {
            attribute: "key size",
            expected: Expected::Bits(bits),
        }
    }
}

enum Found<'a> {
    Flag(Option<bool>),
    Text(Option<&'a str>),
    Bits(Option<u64>),
}

impl Found<'_> {
    fn satisfies(&self, expected: &Expected) -> bool {
        match (self, expected) {
            (Found::Flag(found), Expected::Flag(value)) => *found == Some(*value),
            (Found::Flag(found), Expected::FalseOrAbsent) => *found != Some(true),
            (Found::Text(found), Expected::Text(value)) => *found == Some(value.as_str()),
            (Found::Bits(found), Expected::Bits(value)) => *found == Some(*value),
            _ => false,
        }
    }
}

impl fmt::Display for Found<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Flag(Some(value)) => write!(f, "{value}"),
            Found::Text(Some(text)) => f.write_str(text),
            Found::Bits(Some(bits)) => write!(f, "{bits} bits"),
            Found::Flag(None) | Found::Text(None) | Found::Bits(None) => {
                f.write_str("not reported")
            }
        }
    }
}

/// The usage flags with their CKA_* names.
pub(crate) fn usage_flags(usage: &UsageFlags) -> [(&'static str, bool); 9] {
    [
        ("CKA_ENCRYPT", usage.encrypt),
        ("CKA_DECRYPT", usage.decrypt),
        ("CKA_SIGN", usage.sign),
        ("CKA_SIGN_RECOVER", usage.sign_recover),
        ("CKA_VERIFY", usage.verify),
        ("CKA_VERIFY_RECOVER", usage.verify_recover),
        ("CKA_WRAP", usage.wrap),
        ("CKA_UNWRAP", usage.unwrap),
        ("CKA_DERIVE", usage.derive),
    ]
}

#[cfg(test)]
#[path = "policy_tests.rs"]
pub(crate) mod tests;
