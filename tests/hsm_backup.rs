//! Key backup and restore by trusted key wrapping on real SoftHSM2 tokens:
//! a key with `backup: wrapped` leaves its token only under the trusted
//! KEK the security officer imported, and a second token holding the same
//! KEK restores it as a non-extractable key that signs like the original.

mod hsm_support;

use std::process::Command;

use hsm_support::{Scheme, openssl_verify, run, text};
use keyceremony::hsm::{
    Backup, GeneratedKey, HsmError, KeyAlgorithm, KeyPolicy, KeySpec, KeyUsage, LoggedIn, testing,
    verify_with_spki,
};
use zeroize::Zeroizing;

const KEK_LABEL: &str = "backup-kek";

fn kek_bytes(fill: u8) -> Zeroizing<[u8; 32]> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = fill ^ (index as u8);
    }
    bytes
}

/// A fresh token with the trusted KEK imported from `kek` and the user
/// logged in.
fn token_with_kek(name: &str, kek: &Zeroizing<[u8; 32]>) -> (testing::TestToken, LoggedIn) {
    let fresh = testing::fresh_user_token(name).expect("fresh token");
    {
        let so = fresh.login_so().expect("SO login");
        let info = so.import_trusted_kek(KEK_LABEL, kek).expect("import KEK");
        assert_eq!(info.attributes.trusted, Some(true));
    }
    let user = fresh.login_user().expect("user login");
    (fresh, user)
}

/// A key labelled `<algorithm>-<backup>`.
fn generate(
    user: &LoggedIn,
    algorithm: KeyAlgorithm,
    usage: KeyUsage,
    backup: Backup,
) -> GeneratedKey {
    user.generate(
        &KeySpec::new(algorithm, usage).with_backup(backup),
        &format!("{algorithm}-{backup}"),
    )
    .unwrap_or_else(|error| panic!("generating {algorithm} with backup {backup}: {error}"))
}

#[test]
fn a_wrapped_backup_key_is_extractable_only_under_a_trusted_key() {
    let fresh = testing::fresh_user_token("wrapped-gen").expect("fresh token");
    let user = fresh.login_user().expect("user login");
    let spec = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign).with_backup(Backup::Wrapped);
    let generated = user.generate(&spec, "root").expect("generate");
    let attributes = &generated.private_attributes;
    assert_eq!(attributes.extractable, Some(true));
    assert_eq!(attributes.wrap_with_trusted, Some(true));
    assert_eq!(attributes.sensitive, Some(true));
    assert_eq!(attributes.always_sensitive, Some(true));
    assert_eq!(attributes.never_extractable, Some(false));
    assert_eq!(attributes.local, Some(true));
    assert_ne!(attributes.trusted, Some(true));
    assert_eq!(KeyPolicy::for_spec(&spec).check(attributes), Ok(()));
    // The same attributes would not pass as a key without backup.
    assert!(
        KeyPolicy::for_spec(&spec.clone().with_backup(Backup::None))
            .check(attributes)
            .is_err()
    );

    // Its value still cannot be read, and an untrusted key cannot wrap it.
    let evidence = user.prove_non_exportable(&generated.key).expect("proof");
    assert_eq!(evidence.secret_attributes.len(), 1);
    assert_eq!(evidence.secret_attributes[0].attribute, "CKA_VALUE");
    assert_eq!(
        evidence.secret_attributes[0].result,
        "CKR_ATTRIBUTE_SENSITIVE"
    );
    assert_eq!(evidence.wrap_result, "CKR_KEY_NOT_WRAPPABLE");

    let plain = generate(&user, KeyAlgorithm::EcP384, KeyUsage::Sign, Backup::None);
    assert_eq!(plain.private_attributes.wrap_with_trusted, Some(false));
    let evidence = user.prove_non_exportable(&plain.key).expect("proof");
    assert_eq!(evidence.wrap_result, "CKR_KEY_UNEXTRACTABLE");
}

#[test]
fn only_the_security_officer_imports_the_trusted_kek() {
    let fresh = testing::fresh_user_token("kek-import").expect("fresh token");
    let kek = kek_bytes(0x5a);
    {
        let user = fresh.login_user().expect("user login");
        match user.import_trusted_kek(KEK_LABEL, &kek) {
            Err(HsmError::WrongRole { needed, .. }) => {
                assert_eq!(needed.to_string(), "security officer")
            }
            other => panic!("a user must not import a trusted key: {other:?}"),
        }
    }
    let so = fresh.login_so().expect("SO login");
    let info = so.import_trusted_kek(KEK_LABEL, &kek).expect("import");
    assert_eq!(info.label, KEK_LABEL);
    assert_eq!(info.id_hex.len(), 32);
    let attributes = &info.attributes;
    assert_eq!(attributes.class, "CKO_SECRET_KEY");
    assert_eq!(attributes.key_type, "CKK_AES");
    assert_eq!(attributes.bits, Some(256));
    assert_eq!(attributes.trusted, Some(true));
    assert_eq!(attributes.private, Some(false));
    assert_eq!(attributes.sensitive, Some(true));
    assert_eq!(attributes.extractable, Some(false));
    assert_eq!(attributes.modifiable, Some(false));
    assert_eq!(attributes.wrap, Some(true));
    assert_eq!(attributes.unwrap, Some(true));
    assert_eq!(attributes.encrypt, Some(false));
    assert_eq!(attributes.decrypt, Some(false));
    assert_eq!(attributes.local, Some(false), "imported, not generated");

    match so.import_trusted_kek(KEK_LABEL, &kek_bytes(0x11)) {
        Err(HsmError::DuplicateLabel { count: 1, .. }) => {}
        other => panic!("a second KEK with the same label must be refused: {other:?}"),
    }
}

/// An AES key with CKA_WRAP made by the user with pkcs11-tool: it cannot
/// be trusted, because only the security officer sets CKA_TRUSTED.
fn untrusted_wrapping_key(fresh: &testing::TestToken, label: &str) {
    let conf = fresh.conf_path().expect("conf");
    let output = run(Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", &conf)
        .args(["--module", "/usr/lib/softhsm/libsofthsm2.so"])
        .args(["--token-label", &fresh.label, "--login", "--pin"])
        .arg(fresh.user_pin.expose())
        .args([
            "--keygen",
            "--key-type",
            "AES:32",
            "--usage-wrap",
            "--label",
            label,
        ]));
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn the_token_decides_what_leaves_and_under_which_key() {
    let (fresh, user) = token_with_kek("wrap", &kek_bytes(0x5a));
    let wrapped = generate(&user, KeyAlgorithm::EcP256, KeyUsage::Sign, Backup::Wrapped);
    let backup = user
        .wrap_under_kek(&wrapped.key, KEK_LABEL)
        .expect("wrap under the trusted KEK");
    assert_eq!(backup.mechanism, "CKM_AES_KEY_WRAP_PAD");
    assert!(backup.blob.len() > 32, "{} bytes", backup.blob.len());
    let kek = user.objects().expect("objects");
    let kek = kek
        .iter()
        .find(|o| o.label == KEK_LABEL)
        .expect("KEK listed");
    assert_eq!(backup.kek_id_hex, kek.id_hex);
    let json = serde_json::to_value(&backup).expect("json");
    assert_eq!(json["blob"], hex::encode(&backup.blob));

    untrusted_wrapping_key(&fresh, "untrusted");
    let error = user
        .wrap_under_kek(&wrapped.key, "untrusted")
        .expect_err("an untrusted key must not wrap it");
    assert_eq!(error.ckr(), Some("CKR_KEY_NOT_WRAPPABLE"), "{error}");

    let plain = generate(&user, KeyAlgorithm::EcP256, KeyUsage::Sign, Backup::None);
    let error = user
        .wrap_under_kek(&plain.key, KEK_LABEL)
        .expect_err("a key without backup never leaves");
    assert_eq!(error.ckr(), Some("CKR_KEY_UNEXTRACTABLE"), "{error}");
    assert!(error.to_string().contains("ec-p256-none"), "{error}");

    match user.wrap_under_kek(&wrapped.key, "no-such-kek") {
        Err(HsmError::KeyNotFound { label }) => assert_eq!(label, "no-such-kek"),
        other => panic!("{other:?}"),
    }
}

/// Generates a key with a wrapped backup on one token, restores it on a
/// second token with the same KEK, and proves it is the same key.
fn restore_round_trip(algorithm: KeyAlgorithm, scheme: Scheme) {
    let kek = kek_bytes(0x33);
    let (_original_token, original) = token_with_kek(&format!("orig-{algorithm}"), &kek);
    let spec = KeySpec::new(algorithm, KeyUsage::Sign).with_backup(Backup::Wrapped);
    let generated = original.generate(&spec, "root-key").expect("generate");
    let public = generated.public.clone().expect("public key");
    let backup = original
        .wrap_under_kek(&generated.key, KEK_LABEL)
        .expect("wrap");
    drop(original);

    let (_new_token, user) = token_with_kek(&format!("new-{algorithm}"), &kek);
    let restored = user
        .unwrap_from_kek(
            &backup.blob,
            &backup.mechanism,
            KEK_LABEL,
            &spec,
            "root-key",
            &generated.id_hex,
            Some(&public.spki_der),
        )
        .unwrap_or_else(|error| panic!("restoring {algorithm}: {error}"));
    assert_eq!(restored.key, generated.key);
    let attributes = &restored.attributes;
    assert_eq!(attributes.local, Some(false));
    assert_eq!(attributes.never_extractable, Some(false));
    assert_eq!(attributes.always_sensitive, Some(false));
    assert_eq!(attributes.extractable, Some(false));
    assert_eq!(attributes.sensitive, Some(true));
    assert_eq!(attributes.sign, Some(true));
    assert_eq!(attributes.decrypt, Some(false));
    assert_ne!(attributes.wrap_with_trusted, Some(true));

    // The same key: the public object is the original's, and a signature
    // over a fresh challenge verifies against the original public key, in
    // software, in openssl and in the HSM.
    assert_eq!(user.public_key(&restored.key).expect("public"), public);
    let challenge = b"restore rehearsal challenge 2f9c";
    let signature = user.sign(&restored.key, challenge).expect("sign");
    assert!(
        verify_with_spki(&public.spki_der, algorithm, challenge, &signature).expect("verify"),
        "the restored key signs as the original"
    );
    let (verified, output) = openssl_verify(&public.pem, challenge, &signature, scheme);
    assert!(verified, "openssl: {output}");
    assert!(
        user.verify(&restored.key, challenge, &signature)
            .expect("verify")
    );
    assert!(
        !verify_with_spki(
            &public.spki_der,
            algorithm,
            b"another challenge",
            &signature
        )
        .expect("verify"),
        "a signature over another message"
    );

    // It cannot leave the new token at all.
    let evidence = user.prove_non_exportable(&restored.key).expect("proof");
    assert_eq!(evidence.wrap_result, "CKR_KEY_UNEXTRACTABLE");
    let error = user
        .wrap_under_kek(&restored.key, KEK_LABEL)
        .expect_err("a restored key is not extractable");
    assert_eq!(error.ckr(), Some("CKR_KEY_UNEXTRACTABLE"));
}

#[test]
fn an_ec_p256_key_is_restored_on_a_second_token() {
    restore_round_trip(KeyAlgorithm::EcP256, Scheme::EcdsaSha256);
}

#[test]
fn an_ec_p384_key_is_restored_on_a_second_token() {
    restore_round_trip(KeyAlgorithm::EcP384, Scheme::EcdsaSha384);
}

/// SoftHSM2 2.6.1 wraps EC and RSA private keys but not Edwards keys:
/// even under the trusted KEK the answer is CKR_KEY_NOT_WRAPPABLE. An
/// ed25519 key with `backup: wrapped` cannot be backed up on it.
#[test]
fn softhsm_cannot_wrap_an_ed25519_key_even_under_the_trusted_kek() {
    let (_token, user) = token_with_kek("ed25519-wrap", &kek_bytes(0x33));
    let generated = generate(
        &user,
        KeyAlgorithm::Ed25519,
        KeyUsage::Sign,
        Backup::Wrapped,
    );
    assert_eq!(generated.private_attributes.wrap_with_trusted, Some(true));
    let error = user
        .wrap_under_kek(&generated.key, KEK_LABEL)
        .expect_err("SoftHSM2 2.6 has no PKCS#8 encoding for Edwards keys");
    assert_eq!(error.ckr(), Some("CKR_KEY_NOT_WRAPPABLE"), "{error}");
}

#[test]
fn an_rsa_3072_key_is_restored_on_a_second_token() {
    restore_round_trip(KeyAlgorithm::Rsa3072, Scheme::RsaPssSha256Salt32);
}

#[test]
fn a_kek_from_other_bytes_restores_nothing() {
    let (_original_token, original) = token_with_kek("orig-other", &kek_bytes(0x33));
    let spec = KeySpec::new(KeyAlgorithm::EcP256, KeyUsage::Sign).with_backup(Backup::Wrapped);
    let generated = original.generate(&spec, "root-key").expect("generate");
    let backup = original
        .wrap_under_kek(&generated.key, KEK_LABEL)
        .expect("wrap");
    drop(original);

    let (_other_token, user) = token_with_kek("other-kek", &kek_bytes(0x34));
    let restore = |blob: &[u8]| {
        user.unwrap_from_kek(
            blob,
            &backup.mechanism,
            KEK_LABEL,
            &spec,
            "root-key",
            &generated.id_hex,
            None,
        )
    };
    let error = restore(&backup.blob).expect_err("another KEK must not open the blob");
    assert!(error.ckr().is_some(), "{error:?}");
    assert!(
        error.to_string().contains("does not open under this KEK"),
        "{error}"
    );
    match user.find_key("root-key") {
        Err(HsmError::KeyNotFound { .. }) => {}
        other => panic!("nothing may be left on the token: {other:?}"),
    }

    let error = user
        .unwrap_from_kek(
            &backup.blob,
            "CKM_AES_GCM",
            KEK_LABEL,
            &spec,
            "root-key",
            &generated.id_hex,
            None,
        )
        .expect_err("unknown mechanism");
    assert!(matches!(error, HsmError::InvalidInput(_)), "{error}");
}

/// An AES key wraps and unwraps, but SoftHSM2 2.6.1 reports CKA_VALUE_LEN
/// 0 for the unwrapped secret key and refuses the attribute in the unwrap
/// and copy templates (CKR_ATTRIBUTE_READ_ONLY): the restore policy cannot
/// see a 256-bit key, so the restore stops and leaves nothing behind.
#[test]
fn an_aes_restore_stops_when_the_token_hides_the_key_size() {
    let kek = kek_bytes(0x77);
    let (_original_token, original) = token_with_kek("orig-aes", &kek);
    let spec = KeySpec::new(KeyAlgorithm::Aes256, KeyUsage::Encrypt).with_backup(Backup::Wrapped);
    let generated = original.generate(&spec, "data-key").expect("generate");
    let backup = original
        .wrap_under_kek(&generated.key, KEK_LABEL)
        .expect("wrap");
    assert_eq!(
        backup.blob.len(),
        40,
        "32 key bytes and the 8-byte check block"
    );
    drop(original);

    let (_new_token, user) = token_with_kek("new-aes", &kek);
    match user.unwrap_from_kek(
        &backup.blob,
        &backup.mechanism,
        KEK_LABEL,
        &spec,
        "data-key",
        &generated.id_hex,
        None,
    ) {
        Err(HsmError::Policy {
            violation,
            key_destroyed,
            ..
        }) => {
            assert_eq!(
                violation.to_string(),
                "key size expected 256 bits, found 0 bits"
            );
            assert!(key_destroyed);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        user.find_key("data-key"),
        Err(HsmError::KeyNotFound { .. })
    ));
}

#[test]
fn software_verification_rejects_what_does_not_match() {
    let fresh = testing::fresh_user_token("verify").expect("fresh token");
    let user = fresh.login_user().expect("user login");
    for algorithm in [
        KeyAlgorithm::EcP256,
        KeyAlgorithm::EcP384,
        KeyAlgorithm::Ed25519,
    ] {
        let generated = generate(&user, algorithm, KeyUsage::Sign, Backup::None);
        let spki = generated.public.expect("public").spki_der;
        let signature = user.sign(&generated.key, b"message").expect("sign");
        assert!(verify_with_spki(&spki, algorithm, b"message", &signature).expect("ok"));
        assert!(
            !verify_with_spki(&spki, algorithm, b"other message", &signature).expect("ok"),
            "{algorithm}: another message"
        );
        let mut damaged = signature.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(!verify_with_spki(&spki, algorithm, b"message", &damaged).expect("ok"));
        assert!(!verify_with_spki(&spki, algorithm, b"message", &[]).expect("ok"));
        let other = if algorithm == KeyAlgorithm::Ed25519 {
            KeyAlgorithm::EcP256
        } else {
            KeyAlgorithm::Ed25519
        };
        match verify_with_spki(&spki, other, b"message", &signature) {
            Err(HsmError::InvalidInput(text)) => assert!(text.contains(other.name()), "{text}"),
            result => panic!("a {algorithm} key read as {other}: {result:?}"),
        }
    }
}
