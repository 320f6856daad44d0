//! The read-back check after every generation: a pure function from a key
//! spec and the attributes the token reports to a verdict, so that a module
//! that silently weakens a template stops the ceremony.

use std::fmt;

use serde::Serialize;

use super::attributes::KeyAttributes;
use super::spec::{KeySpec, UsageFlags};

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
    /// The policy for keys made from `spec`: on the token, private,
    /// sensitive, never extractable, generated on the token, not modifiable,
    /// exactly the usages of the spec, and the right type and size.
    pub fn for_spec(spec: &KeySpec) -> KeyPolicy {
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
            rules.push(Rule {
                attribute: "key size",
                expected: Expected::Bits(bits),
            });
        }
        if !algorithm.is_asymmetric() {
            rules.push(Rule {
                attribute: "key size",
                expected: Expected::Bits(256),
            });
        }
        for (attribute, value) in [
            ("CKA_TOKEN", true),
            ("CKA_PRIVATE", true),
            ("CKA_SENSITIVE", true),
            ("CKA_EXTRACTABLE", false),
            ("CKA_ALWAYS_SENSITIVE", true),
            ("CKA_NEVER_EXTRACTABLE", true),
            ("CKA_LOCAL", true),
            ("CKA_MODIFIABLE", false),
        ] {
            rules.push(Rule {
                attribute,
                expected: Expected::Flag(value),
            });
        }
        let usage = spec.private_usage();
        for (attribute, allowed) in usage_flags(&usage) {
            rules.push(Rule {
                attribute,
                expected: if allowed {
                    Expected::Flag(true)
                } else {
                    Expected::FalseOrAbsent
                },
            });
        }
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
        let flags = attributes.flags();
        let mismatches: Vec<Mismatch> = self
            .rules
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
}

impl Rule {
    fn text(attribute: &'static str, value: &str) -> Rule {
        Rule {
            attribute,
            expected: Expected::Text(value.to_owned()),
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
pub(crate) mod tests {
    use super::*;
    use crate::hsm::attributes::FLAG_NAMES;
    use crate::hsm::{KeyAlgorithm, KeyUsage};

    /// Attributes exactly as the policy wants them, every flag reported.
    pub(crate) fn compliant(spec: &KeySpec) -> KeyAttributes {
        let usage = spec.private_usage();
        let algorithm = spec.algorithm;
        KeyAttributes {
            class: if algorithm.is_asymmetric() {
                "CKO_PRIVATE_KEY"
            } else {
                "CKO_SECRET_KEY"
            }
            .into(),
            key_type: algorithm.key_type_name().into(),
            curve: algorithm.curve().map(str::to_owned),
            bits: algorithm
                .rsa_bits()
                .or((!algorithm.is_asymmetric()).then_some(256)),
            token: Some(true),
            private: Some(true),
            sensitive: Some(true),
            extractable: Some(false),
            always_sensitive: Some(true),
            never_extractable: Some(true),
            local: Some(true),
            modifiable: Some(false),
            encrypt: Some(usage.encrypt),
            decrypt: Some(usage.decrypt),
            sign: Some(usage.sign),
            sign_recover: Some(usage.sign_recover),
            verify: Some(usage.verify),
            verify_recover: Some(usage.verify_recover),
            wrap: Some(usage.wrap),
            unwrap: Some(usage.unwrap),
            derive: Some(usage.derive),
        }
    }

    fn all_specs() -> Vec<KeySpec> {
        let mut specs = Vec::new();
        for algorithm in KeyAlgorithm::ALL {
            for usage in [KeyUsage::Sign, KeyUsage::Encrypt] {
                let spec = KeySpec::new(algorithm, usage);
                if spec.validate().is_ok() {
                    specs.push(spec);
                }
            }
        }
        specs
    }

    #[test]
    fn compliant_attributes_pass_for_every_spec() {
        for spec in all_specs() {
            let policy = KeyPolicy::for_spec(&spec);
            assert_eq!(policy.check(&compliant(&spec)), Ok(()), "{spec}");
        }
    }

    #[test]
    fn flipping_any_single_flag_is_caught_and_named() {
        for spec in all_specs() {
            let policy = KeyPolicy::for_spec(&spec);
            for name in FLAG_NAMES {
                let mut weakened = compliant(&spec);
                let slot = weakened.flag_mut(name).expect("known flag");
                let original = slot.expect("compliant sets every flag");
                *slot = Some(!original);
                let violation = policy
                    .check(&weakened)
                    .expect_err(&format!("{spec}: flipping {name} must fail"));
                assert_eq!(
                    violation.mismatches,
                    vec![Mismatch {
                        attribute: name.to_owned(),
                        expected: original.to_string(),
                        found: (!original).to_string(),
                    }],
                    "{spec}"
                );
            }
        }
    }

    #[test]
    fn missing_security_flags_fail_but_missing_unused_usages_pass() {
        let spec = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign);
        let policy = KeyPolicy::for_spec(&spec);
        for name in FLAG_NAMES {
            let mut partial = compliant(&spec);
            let slot = partial.flag_mut(name).expect("known flag");
            let expected_true_or_security = slot == &Some(true)
                || !matches!(
                    name,
                    "CKA_ENCRYPT"
                        | "CKA_DECRYPT"
                        | "CKA_SIGN"
                        | "CKA_SIGN_RECOVER"
                        | "CKA_VERIFY"
                        | "CKA_VERIFY_RECOVER"
                        | "CKA_WRAP"
                        | "CKA_UNWRAP"
                        | "CKA_DERIVE"
                );
            *slot = None;
            let result = policy.check(&partial);
            if expected_true_or_security {
                let violation = result.expect_err(name);
                assert_eq!(violation.mismatches.len(), 1);
                assert_eq!(violation.mismatches[0].attribute, name);
                assert_eq!(violation.mismatches[0].found, "not reported");
            } else {
                assert_eq!(result, Ok(()), "{name} absent means the key cannot do it");
            }
        }
    }

    #[test]
    fn wrong_type_curve_or_size_is_caught() {
        let spec = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign);
        let policy = KeyPolicy::for_spec(&spec);
        let mut other_curve = compliant(&spec);
        other_curve.curve = Some("P-256".into());
        let violation = policy.check(&other_curve).expect_err("P-256 is not P-384");
        assert_eq!(violation.to_string(), "curve expected P-384, found P-256");

        let mut secret = compliant(&spec);
        secret.class = "CKO_SECRET_KEY".into();
        secret.key_type = "CKK_AES".into();
        let violation = policy.check(&secret).expect_err("not an EC key");
        let attributes: Vec<&str> = violation
            .mismatches
            .iter()
            .map(|m| m.attribute.as_str())
            .collect();
        assert_eq!(attributes, ["CKA_CLASS", "CKA_KEY_TYPE"]);

        let rsa = KeySpec::new(KeyAlgorithm::Rsa4096, KeyUsage::Sign);
        let mut short = compliant(&rsa);
        short.bits = Some(2048);
        assert_eq!(
            KeyPolicy::for_spec(&rsa)
                .check(&short)
                .expect_err("2048 bits")
                .to_string(),
            "key size expected 4096 bits, found 2048 bits"
        );
    }

    #[test]
    fn several_weakenings_are_all_reported() {
        let spec = KeySpec::new(KeyAlgorithm::Aes256, KeyUsage::Encrypt);
        let mut weakened = compliant(&spec);
        weakened.extractable = Some(true);
        weakened.wrap = Some(true);
        weakened.sensitive = None;
        let violation = KeyPolicy::for_spec(&spec)
            .check(&weakened)
            .expect_err("weakened");
        assert_eq!(
            violation.to_string(),
            "CKA_SENSITIVE expected true, found not reported; CKA_EXTRACTABLE expected false, \
             found true; CKA_WRAP expected false, found true"
        );
    }
}
