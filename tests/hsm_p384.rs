//! The root ceremony's path on a real SoftHSM2 token: initialize, SO login,
//! set the user PIN, user login, generate an EC P-384 signing key, read it
//! back, prove it non-exportable, publish its public key, sign, and let
//! independent tools (openssl, pkcs11-tool) check the result.

mod hsm_support;

use hsm_support::{Scheme, openssl_describe_public_key, openssl_verify, pkcs11_tool_list_objects};
use keyceremony::hsm::{KeyAlgorithm, KeySpec, KeyUsage, Module, Role, testing};
use sha2::{Digest, Sha256};

#[test]
fn root_ceremony_p384_path() {
    // Initialize: the fresh token gets its SO PIN and label.
    let fresh = testing::fresh_token("p384").expect("fresh token");
    let info = fresh.token.info();
    assert!(info.initialized);
    assert_eq!(info.label, fresh.label);
    assert!(!info.serial.is_empty());
    assert!(!info.user_pin_initialized);

    // A user login before the user PIN exists is refused without a try.
    let error = fresh.login_user().expect_err("no user PIN yet");
    assert!(
        error
            .to_string()
            .contains("user PIN of this token has not been set"),
        "{error}"
    );

    // SO login, set the user PIN; the SO session logs out when dropped.
    {
        let so = fresh.login_so().expect("SO login");
        assert_eq!(so.role(), Role::SecurityOfficer);
        so.init_user_pin(&fresh.user_pin).expect("set user PIN");
    }
    // Look the token up again by serial, as the runner does.
    let module = Module::load(fresh.module.path()).expect("same module");
    let token = module
        .token_by_serial(&fresh.serial)
        .expect("token by serial");
    assert!(token.info().user_pin_initialized);

    let user = token
        .login(Role::User, &fresh.user_pin)
        .expect("user login");
    let spec = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign);
    let generated = user.generate(&spec, "root-p384").expect("generate P-384");

    // Read-back: the attributes the transcript records.
    let a = &generated.private_attributes;
    assert_eq!(a.class, "CKO_PRIVATE_KEY");
    assert_eq!(a.key_type, "CKK_EC");
    assert_eq!(a.curve.as_deref(), Some("P-384"));
    for (name, value, expected) in [
        ("token", a.token, true),
        ("private", a.private, true),
        ("sensitive", a.sensitive, true),
        ("always_sensitive", a.always_sensitive, true),
        ("extractable", a.extractable, false),
        ("never_extractable", a.never_extractable, true),
        ("local", a.local, true),
        ("modifiable", a.modifiable, false),
        ("sign", a.sign, true),
        ("sign_recover", a.sign_recover, false),
        ("decrypt", a.decrypt, false),
        ("unwrap", a.unwrap, false),
        ("derive", a.derive, false),
    ] {
        assert_eq!(value, Some(expected), "{name}");
    }
    assert_eq!(generated.key.label, "root-p384");
    assert_eq!(generated.id_hex.len(), 32, "16-byte CKA_ID");

    // Public key: SPKI PEM that openssl reads as a P-384 key, and the
    // fingerprint is SHA-256 over the DER.
    let public = generated
        .public
        .clone()
        .expect("a key pair has a public key");
    assert_eq!(public.algorithm, KeyAlgorithm::EcP384);
    assert_eq!(
        public.sha256_hex,
        hex::encode(Sha256::digest(&public.spki_der))
    );
    assert!(public.pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let (parsed, description) = openssl_describe_public_key(&public.pem);
    assert!(parsed, "{description}");
    assert!(description.contains("384 bit"), "{description}");
    assert!(
        description.contains("secp384r1") || description.contains("P-384"),
        "{description}"
    );
    assert_eq!(
        user.public_key(&generated.key).expect("public key again"),
        public
    );

    // Non-exportable: CKA_VALUE is sensitive and wrapping is refused.
    let evidence = user
        .prove_non_exportable(&generated.key)
        .expect("non-exportable");
    assert_eq!(evidence.secret_attributes.len(), 1);
    assert_eq!(evidence.secret_attributes[0].attribute, "CKA_VALUE");
    assert_eq!(
        evidence.secret_attributes[0].result,
        "CKR_ATTRIBUTE_SENSITIVE"
    );
    assert_eq!(evidence.wrap_result, "CKR_KEY_UNEXTRACTABLE");
    assert_eq!(evidence.wrap_mechanism, "CKM_AES_KEY_WRAP_PAD");
    // The temporary wrapping key is gone: only the key pair remains.
    let objects = user.objects().expect("objects");
    let classes: Vec<&str> = objects.iter().map(|o| o.class.as_str()).collect();
    assert_eq!(classes, ["CKO_PUBLIC_KEY", "CKO_PRIVATE_KEY"]);
    assert!(
        objects
            .iter()
            .all(|o| o.label == "root-p384" && o.id_hex == generated.id_hex)
    );

    // Sign; openssl verifies against the PEM; a changed message fails.
    let message = b"keyceremony root transcript checkpoint";
    let signature = user.sign(&generated.key, message).expect("sign");
    let (verified, output) = openssl_verify(&public.pem, message, &signature, Scheme::EcdsaSha384);
    assert!(verified, "{output}");
    let (verified, _) = openssl_verify(
        &public.pem,
        b"another message",
        &signature,
        Scheme::EcdsaSha384,
    );
    assert!(
        !verified,
        "openssl must reject a signature over another message"
    );
    drop(user);

    // A new login finds the key by label (handles do not survive logout).
    let user = token
        .login(Role::User, &fresh.user_pin)
        .expect("second login");
    let found = user.find_key("root-p384").expect("find key");
    assert_eq!(found, generated.key);
    let signature = user.sign(&found, message).expect("sign again");
    assert!(openssl_verify(&public.pem, message, &signature, Scheme::EcdsaSha384).0);
    drop(user);

    // An independent PKCS#11 client sees the key as sensitive and not
    // extractable.
    let conf = fresh.conf_path().expect("conf path");
    let (listed, listing) = pkcs11_tool_list_objects(&conf, &fresh.label, fresh.user_pin.expose());
    assert!(listed, "{listing}");
    let private_entry = listing
        .split("Private Key Object")
        .nth(1)
        .expect("pkcs11-tool lists the private key");
    assert!(private_entry.contains("label:      root-p384"), "{listing}");
    assert!(
        private_entry.contains(&format!("ID:         {}", generated.id_hex)),
        "{listing}"
    );
    let access = private_entry
        .lines()
        .find(|line| line.trim_start().starts_with("Access:"))
        .expect("an Access line");
    assert!(access.contains("sensitive"), "{access}");
    assert!(access.contains("never extractable"), "{access}");
    assert!(
        !access
            .replace("never extractable", "")
            .contains("extractable"),
        "{access}"
    );
    let usage = private_entry
        .lines()
        .find(|line| line.trim_start().starts_with("Usage:"))
        .expect("a Usage line");
    assert_eq!(usage.trim(), "Usage:      sign", "{listing}");
}
