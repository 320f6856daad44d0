//! The policies against altered attribute sets: every single weakening is
//! caught and named.

use super::*;
use crate::hsm::attributes::FLAG_NAMES;
use crate::hsm::{KeyAlgorithm, KeyUsage};

/// Attributes exactly as the generation policy wants them, every flag
/// reported.
pub(crate) fn compliant(spec: &KeySpec) -> KeyAttributes {
    let usage = spec.private_usage();
    let algorithm = spec.algorithm;
    let wrapped = spec.backup == Backup::Wrapped;
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
        extractable: Some(wrapped),
        always_sensitive: Some(true),
        never_extractable: Some(!wrapped),
        local: Some(true),
        modifiable: Some(false),
        wrap_with_trusted: Some(wrapped),
        trusted: Some(false),
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

/// Attributes exactly as the restore policy wants them.
fn restored(spec: &KeySpec) -> KeyAttributes {
    KeyAttributes {
        extractable: Some(false),
        always_sensitive: Some(false),
        never_extractable: Some(false),
        local: Some(false),
        wrap_with_trusted: Some(false),
        ..compliant(&spec.clone().with_backup(Backup::None))
    }
}

fn trusted_kek() -> KeyAttributes {
    let mut attributes = compliant(&KeySpec::new(KeyAlgorithm::Aes256, KeyUsage::Encrypt));
    attributes.private = Some(false);
    attributes.trusted = Some(true);
    attributes.encrypt = Some(false);
    attributes.decrypt = Some(false);
    attributes.wrap = Some(true);
    attributes.unwrap = Some(true);
    attributes
}

fn all_specs() -> Vec<KeySpec> {
    let mut specs = Vec::new();
    for algorithm in KeyAlgorithm::ALL {
        for usage in [KeyUsage::Sign, KeyUsage::Encrypt] {
            for backup in [Backup::None, Backup::Wrapped] {
                let spec = KeySpec::new(algorithm, usage).with_backup(backup);
                if spec.validate().is_ok() {
                    specs.push(spec);
                }
            }
        }
    }
    specs
}

/// Flips each flag of `attributes` in turn; `rules` must name exactly the
/// flipped flag, except the flags in `unchecked`.
fn assert_every_flip_caught(
    what: &str,
    rules: &[Rule],
    attributes: &KeyAttributes,
    unchecked: &[&str],
) {
    for name in FLAG_NAMES {
        let mut weakened = attributes.clone();
        let slot = weakened.flag_mut(name).expect("known flag");
        let original = slot.expect("every flag is set");
        *slot = Some(!original);
        let result = check_rules(rules, &weakened);
        if unchecked.contains(&name) {
            assert_eq!(result, Ok(()), "{what}: {name} is recorded, not checked");
            continue;
        }
        let violation = result.expect_err(&format!("{what}: flipping {name} must fail"));
        assert_eq!(
            violation.mismatches,
            vec![Mismatch {
                attribute: name.to_owned(),
                expected: original.to_string(),
                found: (!original).to_string(),
            }],
            "{what}"
        );
    }
}

#[test]
fn compliant_attributes_pass_for_every_spec() {
    for spec in all_specs() {
        let policy = KeyPolicy::for_spec(&spec);
        assert_eq!(policy.check(&compliant(&spec)), Ok(()), "{spec}");
        let restore = KeyPolicy::for_restored(&spec);
        assert_eq!(restore.check(&restored(&spec)), Ok(()), "restored {spec}");
    }
    assert_eq!(check_rules(&trusted_kek_rules(), &trusted_kek()), Ok(()));
}

#[test]
fn flipping_any_single_flag_is_caught_and_named() {
    for spec in all_specs() {
        let policy = KeyPolicy::for_spec(&spec);
        assert_every_flip_caught(&spec.to_string(), policy.rules(), &compliant(&spec), &[]);
        let restore = KeyPolicy::for_restored(&spec);
        assert_every_flip_caught(
            &format!("restored {spec}"),
            restore.rules(),
            &restored(&spec),
            &[],
        );
    }
    assert_every_flip_caught(
        "trusted KEK",
        &trusted_kek_rules(),
        &trusted_kek(),
        &[
            "CKA_ALWAYS_SENSITIVE",
            "CKA_NEVER_EXTRACTABLE",
            "CKA_LOCAL",
            "CKA_WRAP_WITH_TRUSTED",
        ],
    );
}

#[test]
fn a_wrapped_backup_key_needs_wrap_with_trusted() {
    let spec = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign).with_backup(Backup::Wrapped);
    let policy = KeyPolicy::for_spec(&spec);
    // Extractable without WRAP_WITH_TRUSTED: it could be wrapped under any
    // key, including one its holder knows.
    for weakened in [Some(false), None] {
        let mut attributes = compliant(&spec);
        attributes.wrap_with_trusted = weakened;
        let violation = policy.check(&attributes).expect_err("must be refused");
        assert_eq!(violation.mismatches.len(), 1);
        assert_eq!(violation.mismatches[0].attribute, "CKA_WRAP_WITH_TRUSTED");
    }
    // A key made without backup does not pass as a wrapped-backup key, nor
    // the other way round: the transcript must say which one it is.
    let none = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign);
    let found: Vec<String> = policy
        .check(&compliant(&none))
        .expect_err("not wrappable")
        .mismatches
        .into_iter()
        .map(|m| m.attribute)
        .collect();
    assert_eq!(
        found,
        [
            "CKA_EXTRACTABLE",
            "CKA_NEVER_EXTRACTABLE",
            "CKA_WRAP_WITH_TRUSTED"
        ]
    );
    assert!(KeyPolicy::for_spec(&none).check(&compliant(&spec)).is_err());
}

#[test]
fn a_restored_key_must_report_its_history() {
    let spec = KeySpec::new(KeyAlgorithm::Ed25519, KeyUsage::Sign).with_backup(Backup::Wrapped);
    // The backup policy of the spec does not matter after a restore.
    assert_eq!(
        KeyPolicy::for_restored(&spec).rules(),
        KeyPolicy::for_restored(&spec.clone().with_backup(Backup::None)).rules()
    );
    let violation = KeyPolicy::for_restored(&spec)
        .check(&compliant(&spec))
        .expect_err("a freshly generated key is not a restored one");
    assert_eq!(
        violation.to_string(),
        "CKA_EXTRACTABLE expected false, found true; CKA_ALWAYS_SENSITIVE expected false, found \
         true; CKA_LOCAL expected false, found true; CKA_WRAP_WITH_TRUSTED expected false, found \
         true"
    );
}

#[test]
fn missing_security_flags_fail_but_missing_unused_usages_pass() {
    for backup in [Backup::None, Backup::Wrapped] {
        let spec = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign).with_backup(backup);
        let policy = KeyPolicy::for_spec(&spec);
        for name in FLAG_NAMES {
            let mut partial = compliant(&spec);
            let slot = partial.flag_mut(name).expect("known flag");
            // Usages and trust flags the key must not have may be absent:
            // PKCS#11 does not define every one for every class.
            let may_be_absent = slot == &Some(false)
                && matches!(
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
                        | "CKA_WRAP_WITH_TRUSTED"
                        | "CKA_TRUSTED"
                );
            *slot = None;
            let result = policy.check(&partial);
            if may_be_absent {
                assert_eq!(result, Ok(()), "{name} absent means the key cannot do it");
            } else {
                let violation = result.expect_err(name);
                assert_eq!(violation.mismatches.len(), 1);
                assert_eq!(violation.mismatches[0].attribute, name);
                assert_eq!(violation.mismatches[0].found, "not reported");
            }
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

    let mut kek = trusted_kek();
    kek.bits = Some(128);
    assert_eq!(
        check_rules(&trusted_kek_rules(), &kek)
            .expect_err("AES-128")
            .to_string(),
        "key size expected 256 bits, found 128 bits"
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
