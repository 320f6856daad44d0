//! Every key type on a real SoftHSM2 token: generation passes the read-back
//! policy, the key is proven non-exportable, and openssl checks signatures
//! and encryptions against the exported public key. Each test has its own
//! token, so they run in parallel.

mod hsm_support;

use std::process::Command;

use hsm_support::{Scheme, openssl_describe_public_key, openssl_verify, run, text};
use keyceremony::hsm::{
    GeneratedKey, KeyAlgorithm, KeySpec, KeyUsage, LoggedIn, NonExportableEvidence, testing,
};

fn generate(
    user: &LoggedIn,
    algorithm: KeyAlgorithm,
    usage: KeyUsage,
    label: &str,
) -> GeneratedKey {
    let generated = user
        .generate(&KeySpec::new(algorithm, usage), label)
        .unwrap_or_else(|error| panic!("generating {algorithm}: {error}"));
    let attributes = &generated.private_attributes;
    assert_eq!(attributes.sensitive, Some(true));
    assert_eq!(attributes.extractable, Some(false));
    assert_eq!(attributes.never_extractable, Some(true));
    assert_eq!(attributes.local, Some(true));
    generated
}

fn assert_proven(evidence: &NonExportableEvidence, secret_attributes: &[&str]) {
    let probed: Vec<&str> = evidence
        .secret_attributes
        .iter()
        .map(|probe| probe.attribute.as_str())
        .collect();
    assert_eq!(probed, secret_attributes);
    assert!(
        evidence
            .secret_attributes
            .iter()
            .all(|probe| probe.result == "CKR_ATTRIBUTE_SENSITIVE")
    );
    assert_eq!(evidence.wrap_result, "CKR_KEY_UNEXTRACTABLE");
}

fn sign_and_verify(algorithm: KeyAlgorithm, scheme: fn() -> Scheme, description: &str) {
    let fresh = testing::fresh_user_token(algorithm.name()).expect("fresh token");
    let user = fresh.login_user().expect("user login");
    let generated = generate(&user, algorithm, KeyUsage::Sign, "signing-key");
    assert_eq!(generated.private_attributes.sign, Some(true));
    assert_eq!(generated.private_attributes.decrypt, Some(false));

    // Found again by label, the algorithm is recognised from the token.
    assert_eq!(user.find_key("signing-key").expect("find"), generated.key);

    let public = generated.public.expect("public key");
    let (parsed, text) = openssl_describe_public_key(&public.pem);
    assert!(parsed && text.contains(description), "{text}");

    let message = b"approve the ceremony script, revision 7";
    let signature = user.sign(&generated.key, message).expect("sign");
    let (verified, output) = openssl_verify(&public.pem, message, &signature, scheme());
    assert!(verified, "{algorithm}: {output}");
    let (verified, _) = openssl_verify(&public.pem, b"approve revision 8", &signature, scheme());
    assert!(
        !verified,
        "{algorithm}: a signature over another message must fail"
    );

    let secret: &[&str] = if algorithm.name().starts_with("rsa") {
        &[
            "CKA_PRIVATE_EXPONENT",
            "CKA_PRIME_1",
            "CKA_PRIME_2",
            "CKA_EXPONENT_1",
            "CKA_EXPONENT_2",
            "CKA_COEFFICIENT",
        ]
    } else {
        &["CKA_VALUE"]
    };
    assert_proven(
        &user.prove_non_exportable(&generated.key).expect("proof"),
        secret,
    );
}

#[test]
fn ec_p256_signs_with_ecdsa_sha256() {
    sign_and_verify(KeyAlgorithm::EcP256, || Scheme::EcdsaSha256, "prime256v1");
}

#[test]
fn ed25519_signs_with_pure_eddsa() {
    sign_and_verify(KeyAlgorithm::Ed25519, || Scheme::Ed25519, "ED25519");
}

#[test]
fn rsa_3072_signs_with_pss_sha256() {
    sign_and_verify(
        KeyAlgorithm::Rsa3072,
        || Scheme::RsaPssSha256Salt32,
        "3072 bit",
    );
}

#[test]
fn rsa_4096_encrypts_with_oaep_and_openssl_agrees() {
    let fresh = testing::fresh_user_token("rsa4096").expect("fresh token");
    let user = fresh.login_user().expect("user login");
    let generated = generate(
        &user,
        KeyAlgorithm::Rsa4096,
        KeyUsage::Encrypt,
        "backup-kek",
    );
    let attributes = &generated.private_attributes;
    assert_eq!(attributes.bits, Some(4096));
    assert_eq!(attributes.decrypt, Some(true));
    assert_eq!(attributes.sign, Some(false));
    assert_eq!(attributes.unwrap, Some(false));
    let key = &generated.key;
    assert_eq!(&user.find_key("backup-kek").expect("find"), key);

    let secret = b"a 32-byte ceremony secret......";
    let sealed = user.encrypt(key, secret, b"").expect("encrypt");
    assert_eq!(sealed.len(), 512);
    assert_eq!(
        user.decrypt(key, &sealed, b"").expect("decrypt").as_slice(),
        secret
    );
    let error = user
        .encrypt(key, secret, b"context")
        .expect_err("no OAEP label");
    assert!(
        error
            .to_string()
            .contains("RSA-OAEP takes no associated data"),
        "{error}"
    );

    // openssl encrypts to the exported public key; the token decrypts.
    let dir = tempfile::tempdir().expect("temporary directory");
    let pem = dir.path().join("public.pem");
    let plain = dir.path().join("plain");
    let cipher = dir.path().join("cipher");
    std::fs::write(&pem, &generated.public.expect("public key").pem).expect("write pem");
    std::fs::write(&plain, secret).expect("write plaintext");
    let output = run(Command::new("openssl")
        .args(["pkeyutl", "-encrypt", "-pubin", "-inkey"])
        .arg(&pem)
        .args([
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha1",
        ])
        .args(["-pkeyopt", "rsa_mgf1_md:sha1", "-in"])
        .arg(&plain)
        .arg("-out")
        .arg(&cipher));
    assert!(output.status.success(), "{}", text(&output));
    let from_openssl = std::fs::read(&cipher).expect("read ciphertext");
    assert_eq!(
        user.decrypt(key, &from_openssl, b"")
            .expect("decrypt")
            .as_slice(),
        secret
    );

    // The usage flags hold: an encryption key does not sign.
    let error = user.sign(key, b"message").expect_err("not a signing key");
    assert_eq!(
        error.ckr(),
        Some("CKR_KEY_FUNCTION_NOT_PERMITTED"),
        "{error}"
    );
}

#[test]
fn aes_256_gcm_round_trips_and_detects_tampering() {
    let fresh = testing::fresh_user_token("aes").expect("fresh token");
    let user = fresh.login_user().expect("user login");
    let generated = generate(&user, KeyAlgorithm::Aes256, KeyUsage::Encrypt, "share-kek");
    let attributes = &generated.private_attributes;
    assert_eq!(attributes.class, "CKO_SECRET_KEY");
    assert_eq!(attributes.bits, Some(256));
    assert_eq!(
        (attributes.encrypt, attributes.decrypt),
        (Some(true), Some(true))
    );
    assert_eq!(
        (attributes.wrap, attributes.unwrap),
        (Some(false), Some(false))
    );
    assert_eq!(generated.public, None);
    let key = &generated.key;
    assert_eq!(&user.find_key("share-kek").expect("find"), key);

    let plaintext = b"custodian share 3 of 5";
    let sealed = user
        .encrypt(key, plaintext, b"ceremony-42")
        .expect("encrypt");
    assert_eq!(
        sealed.len(),
        12 + plaintext.len() + 16,
        "IV || ciphertext || tag"
    );
    let again = user
        .encrypt(key, plaintext, b"ceremony-42")
        .expect("encrypt again");
    assert_ne!(sealed[..12], again[..12], "a fresh IV every time");
    let opened = user.decrypt(key, &sealed, b"ceremony-42").expect("decrypt");
    assert_eq!(opened.as_slice(), plaintext);

    assert!(
        user.decrypt(key, &sealed, b"ceremony-43").is_err(),
        "other AAD"
    );
    let mut altered = sealed.clone();
    altered[14] ^= 1;
    assert!(
        user.decrypt(key, &altered, b"ceremony-42").is_err(),
        "altered ciphertext"
    );
    assert!(user.decrypt(key, &sealed[..20], b"").is_err(), "too short");

    let error = user.sign(key, b"m").expect_err("AES does not sign");
    assert!(
        error
            .to_string()
            .contains("not possible with a aes-256 key"),
        "{error}"
    );
    assert!(user.public_key(key).is_err());
    assert_proven(
        &user.prove_non_exportable(key).expect("proof"),
        &["CKA_VALUE"],
    );
    let objects = user.objects().expect("objects");
    assert_eq!(objects.len(), 1, "the temporary wrapping key is gone");
    assert_eq!(objects[0].class, "CKO_SECRET_KEY");
}
