//! The HSM layer on kryoptic, a second and independent PKCS#11
//! implementation: what works on SoftHSM2 must work here too, and what
//! kryoptic lacks (Ed25519 in this build, CKM_AES_KEY_WRAP_PAD, a mechanism
//! list before initialization) must be named, not stumbled over.
//!
//! kryoptic reads KRYOPTIC_CONF once, at C_Initialize, and has fixed slots,
//! so a fresh token needs a fresh process. Each test therefore runs its body
//! in a child: this same test binary, filtered to that one test, with its
//! own KRYOPTIC_CONF naming a new sqlite database. (Setting the variable in
//! this process would be unsound once test threads run.)
//!
//! The module comes from KRYOPTIC_MODULE (`make test` builds it and sets it)
//! or, when that is unset, from tools/build-kryoptic.sh. A missing kryoptic
//! fails the tests unless KEYCEREMONY_SKIP_KRYOPTIC=1 says to skip them.

mod hsm_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use hsm_support::{Scheme, openssl_describe_public_key, openssl_verify, run, text};
use keyceremony::hsm::{
    GeneratedKey, HsmError, KeyAlgorithm, KeySpec, KeyUsage, LoggedIn, MechanismFunction, Module,
    NonExportableEvidence, RequiredMechanism, Role, Stage, Token, testing,
};
use keyceremony::secret::Pin;

const MODULE_ENV: &str = "KRYOPTIC_MODULE";
const SKIP_ENV: &str = "KEYCEREMONY_SKIP_KRYOPTIC";
/// Set in a child to the name of the one test whose body it runs.
const CHILD_ENV: &str = "KEYCEREMONY_KRYOPTIC_CHILD";

/// kryoptic counts failed logins and locks the PIN at the tenth.
const KRYOPTIC_MAX_LOGIN_ATTEMPTS: usize = 10;

/// Declares a test whose body runs in a child process on a fresh kryoptic
/// token database.
macro_rules! kryoptic_test {
    ($(#[$meta:meta])* fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            isolated(stringify!($name), || $body);
        }
    };
}

fn isolated(name: &str, body: impl FnOnce()) {
    if let Some(child) = std::env::var_os(CHILD_ENV) {
        assert_eq!(
            child, name,
            "the child runs only the test it was started for"
        );
        body();
        return;
    }
    if std::env::var_os(SKIP_ENV).is_some_and(|value| value == "1") {
        eprintln!("{name}: skipped because {SKIP_ENV}=1");
        return;
    }
    let module = module_path();
    let dir = tempfile::tempdir().expect("temporary directory");
    let conf = dir.path().join("kryoptic.toml");
    std::fs::write(
        &conf,
        format!(
            "[[slots]]\nslot = 1\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
            dir.path().join("token.sql").display()
        ),
    )
    .expect("write the kryoptic configuration");
    let output = run(
        Command::new(std::env::current_exe().expect("test binary path"))
            .args([name, "--exact", "--nocapture", "--test-threads", "1"])
            .env("KRYOPTIC_CONF", &conf)
            .env(MODULE_ENV, module)
            .env(CHILD_ENV, name),
    );
    let shown = text(&output);
    // A filter that matched nothing would also exit 0: demand the one test.
    assert!(
        output.status.success() && shown.contains("test result: ok. 1 passed"),
        "{name} failed in its kryoptic child process:\n{shown}"
    );
}

/// The module's path, found once per test process.
fn module_path() -> &'static Path {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os(MODULE_ENV) {
            let path = PathBuf::from(path);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(format!("{MODULE_ENV}={} is not a file", path.display()))
            };
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/build-kryoptic.sh");
        let output = Command::new("bash")
            .arg(&script)
            .output()
            .map_err(|error| format!("cannot run {}: {error}", script.display()))?;
        let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if output.status.success() && Path::new(&printed).is_file() {
            Ok(PathBuf::from(printed))
        } else {
            Err(format!(
                "{} did not build kryoptic:\n{}",
                script.display(),
                text(&output)
            ))
        }
    });
    match found {
        Ok(path) => path,
        Err(reason) => panic!(
            "kryoptic is missing ({reason}); set {MODULE_ENV} to libkryoptic_pkcs11.so, or \
             {SKIP_ENV}=1 to skip these tests"
        ),
    }
}

// ---- inside a child: one kryoptic token of our own ----

fn kryoptic() -> Module {
    let path = std::env::var_os(MODULE_ENV).expect("the parent sets KRYOPTIC_MODULE");
    Module::load(Path::new(&path)).expect("load kryoptic")
}

struct Fresh {
    token: Token,
    so_pin: Pin,
    user_pin: Pin,
}

impl Fresh {
    fn login_user(&self) -> LoggedIn {
        self.token
            .login(Role::User, &self.user_pin)
            .expect("user login")
    }
}

/// The slot's token initialized with an SO PIN and a user PIN, as a
/// ceremony leaves it.
fn fresh_token() -> Fresh {
    let module = kryoptic();
    let blank = module
        .uninitialized_token()
        .expect("kryoptic's blank token");
    let so_pin = testing::pin("so-pin-0123456789");
    let user_pin = testing::pin("user-pin-9876543210");
    let info = blank
        .initialize(&so_pin, "kryoptic-test")
        .expect("initialize with the SO PIN");
    assert_eq!(info.label, "kryoptic-test");
    assert!(!info.user_pin_initialized);
    let token = module.token_by_serial(&info.serial).expect("by serial");
    token
        .login(Role::SecurityOfficer, &so_pin)
        .expect("SO login")
        .init_user_pin(&user_pin)
        .expect("set the user PIN");
    let token = module.token_by_serial(&info.serial).expect("by serial");
    assert!(token.info().user_pin_initialized, "{:?}", token.info());
    Fresh {
        token,
        so_pin,
        user_pin,
    }
}

fn generate(user: &LoggedIn, algorithm: KeyAlgorithm, usage: KeyUsage) -> GeneratedKey {
    let label = format!("{algorithm}-{usage}");
    let generated = user
        .generate(&KeySpec::new(algorithm, usage), &label)
        .unwrap_or_else(|error| panic!("generating {algorithm} on kryoptic: {error}"));
    // `generate` returns only keys that passed the read-back policy; check
    // the attributes that make it a root key anyway.
    let attributes = &generated.private_attributes;
    assert_eq!(attributes.token, Some(true));
    assert_eq!(attributes.private, Some(true));
    assert_eq!(attributes.sensitive, Some(true));
    assert_eq!(attributes.extractable, Some(false));
    assert_eq!(attributes.always_sensitive, Some(true));
    assert_eq!(attributes.never_extractable, Some(true));
    assert_eq!(attributes.local, Some(true));
    assert_eq!(user.find_key(&label).expect("find by label"), generated.key);
    generated
}

/// kryoptic's refusal to wrap a non-extractable private key (it checks
/// CKA_EXTRACTABLE like a usage flag); secret keys get PKCS#11's own answer.
const PRIVATE_KEY_REFUSAL: &str = "CKR_KEY_FUNCTION_NOT_PERMITTED";
const SECRET_KEY_REFUSAL: &str = "CKR_KEY_UNEXTRACTABLE";

fn assert_proven(evidence: &NonExportableEvidence, secret_attributes: &[&str], refusal: &str) {
    let probed: Vec<&str> = evidence
        .secret_attributes
        .iter()
        .map(|probe| probe.attribute.as_str())
        .collect();
    assert_eq!(probed, secret_attributes);
    for probe in &evidence.secret_attributes {
        assert_eq!(probe.result, "CKR_ATTRIBUTE_SENSITIVE", "{probe:?}");
    }
    // kryoptic has no CKM_AES_KEY_WRAP_PAD: the proof falls back to the
    // unpadded wrap, and the refusal is still the one that proves it.
    assert_eq!(evidence.wrap_mechanism, "CKM_AES_KEY_WRAP");
    assert_eq!(evidence.wrap_result, refusal);
}

const RSA_SECRETS: &[&str] = &[
    "CKA_PRIVATE_EXPONENT",
    "CKA_PRIME_1",
    "CKA_PRIME_2",
    "CKA_EXPONENT_1",
    "CKA_EXPONENT_2",
    "CKA_COEFFICIENT",
];

/// Generates a signing key, signs, has openssl verify the signature against
/// the exported PEM, and proves the key non-exportable.
fn sign_and_verify(algorithm: KeyAlgorithm, scheme: fn() -> Scheme, description: &str) {
    let fresh = fresh_token();
    let user = fresh.login_user();
    let generated = generate(&user, algorithm, KeyUsage::Sign);
    assert_eq!(generated.private_attributes.sign, Some(true));
    assert_eq!(generated.private_attributes.decrypt, Some(false));
    assert_eq!(generated.private_attributes.derive, Some(false));

    let public = generated.public.clone().expect("public key");
    let (parsed, described) = openssl_describe_public_key(&public.pem);
    assert!(parsed && described.contains(description), "{described}");
    assert_eq!(
        user.public_key(&generated.key).expect("public key again"),
        public
    );

    let message = b"approve the ceremony script, revision 7";
    let signature = user.sign(&generated.key, message).expect("sign");
    let (verified, output) = openssl_verify(&public.pem, message, &signature, scheme());
    assert!(verified, "{algorithm}: {output}");
    let (verified, _) = openssl_verify(&public.pem, b"approve revision 8", &signature, scheme());
    assert!(!verified, "a signature over another message must fail");

    let secrets: &[&str] = if algorithm.is_asymmetric() && algorithm.name().starts_with("rsa") {
        RSA_SECRETS
    } else {
        &["CKA_VALUE"]
    };
    assert_proven(
        &user.prove_non_exportable(&generated.key).expect("proof"),
        secrets,
        PRIVATE_KEY_REFUSAL,
    );
    // Only the key pair: no temporary wrapping key, no CKO_MECHANISM objects.
    let objects = user.objects().expect("objects");
    let classes: Vec<&str> = objects.iter().map(|o| o.class.as_str()).collect();
    assert_eq!(classes, ["CKO_PUBLIC_KEY", "CKO_PRIVATE_KEY"]);
}

kryoptic_test! {
    fn the_token_takes_an_so_pin_and_a_user_pin() {
        let fresh = fresh_token();
        let info = fresh.token.refresh().expect("token info");
        assert!(info.initialized && info.user_pin_initialized, "{info:?}");
        assert!(!info.user_pin_locked && !info.so_pin_locked, "{info:?}");
        let module_info = fresh.token.module().info().expect("module info");
        assert!(
            module_info.manufacturer.contains("Kryoptic")
                || module_info.library_description.contains("Kryoptic"),
            "{module_info:?}"
        );
        // Both PINs work, and the SO PIN is not the user's.
        drop(fresh.login_user());
        drop(
            fresh
                .token
                .login(Role::SecurityOfficer, &fresh.so_pin)
                .expect("SO login"),
        );
        let error = fresh
            .token
            .login(Role::User, &fresh.so_pin)
            .expect_err("the SO PIN is not the user PIN");
        assert_eq!(error.ckr(), Some("CKR_PIN_INCORRECT"), "{error}");
        // And the token is never initialized a second time.
        let error = fresh
            .token
            .initialize(&fresh.so_pin, "again")
            .expect_err("already initialized");
        assert!(matches!(error, HsmError::AlreadyInitialized { .. }), "{error:?}");
    }
}

kryoptic_test! {
    fn ec_p256_signs_with_ecdsa_sha256_and_openssl_verifies() {
        sign_and_verify(KeyAlgorithm::EcP256, || Scheme::EcdsaSha256, "prime256v1");
    }
}

kryoptic_test! {
    fn ec_p384_signs_with_ecdsa_sha384_and_openssl_verifies() {
        sign_and_verify(KeyAlgorithm::EcP384, || Scheme::EcdsaSha384, "secp384r1");
    }
}

kryoptic_test! {
    fn rsa_3072_signs_with_pss_sha256_and_openssl_verifies() {
        sign_and_verify(KeyAlgorithm::Rsa3072, || Scheme::RsaPssSha256Salt32, "3072 bit");
    }
}

kryoptic_test! {
    fn rsa_4096_encrypts_with_oaep_and_openssl_agrees() {
        let fresh = fresh_token();
        let user = fresh.login_user();
        let generated = generate(&user, KeyAlgorithm::Rsa4096, KeyUsage::Encrypt);
        let attributes = &generated.private_attributes;
        assert_eq!(attributes.bits, Some(4096));
        assert_eq!((attributes.decrypt, attributes.sign), (Some(true), Some(false)));
        assert_eq!(attributes.unwrap, Some(false));
        let key = &generated.key;

        let secret = b"a 32-byte ceremony secret......";
        let sealed = user.encrypt(key, secret, b"").expect("encrypt");
        assert_eq!(sealed.len(), 512);
        assert_eq!(user.decrypt(key, &sealed, b"").expect("decrypt").as_slice(), secret);

        // openssl encrypts to the exported public key; the token decrypts.
        let dir = tempfile::tempdir().expect("temporary directory");
        let pem = dir.path().join("public.pem");
        let plain = dir.path().join("plain");
        let cipher = dir.path().join("cipher");
        let public = generated.public.clone().expect("public key");
        std::fs::write(&pem, &public.pem).expect("write pem");
        std::fs::write(&plain, secret).expect("write plaintext");
        let output = run(Command::new("openssl")
            .args(["pkeyutl", "-encrypt", "-pubin", "-inkey"])
            .arg(&pem)
            .args(["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1"])
            .args(["-pkeyopt", "rsa_mgf1_md:sha1", "-in"])
            .arg(&plain)
            .arg("-out")
            .arg(&cipher));
        assert!(output.status.success(), "{}", text(&output));
        let from_openssl = std::fs::read(&cipher).expect("read ciphertext");
        assert_eq!(
            user.decrypt(key, &from_openssl, b"").expect("decrypt").as_slice(),
            secret
        );

        // The usage flags hold on kryoptic too: an encryption key does not sign.
        let error = user.sign(key, b"message").expect_err("not a signing key");
        assert_eq!(error.ckr(), Some("CKR_KEY_FUNCTION_NOT_PERMITTED"), "{error}");
        assert_proven(
            &user.prove_non_exportable(key).expect("proof"),
            RSA_SECRETS,
            PRIVATE_KEY_REFUSAL,
        );
    }
}

kryoptic_test! {
    fn aes_256_gcm_round_trips_and_detects_tampering() {
        let fresh = fresh_token();
        let user = fresh.login_user();
        let generated = generate(&user, KeyAlgorithm::Aes256, KeyUsage::Encrypt);
        let attributes = &generated.private_attributes;
        assert_eq!(attributes.class, "CKO_SECRET_KEY");
        assert_eq!(attributes.bits, Some(256));
        assert_eq!((attributes.encrypt, attributes.decrypt), (Some(true), Some(true)));
        assert_eq!((attributes.wrap, attributes.unwrap), (Some(false), Some(false)));
        assert_eq!(generated.public, None);
        let key = &generated.key;

        let plaintext = b"custodian share 3 of 5";
        let sealed = user.encrypt(key, plaintext, b"ceremony-42").expect("encrypt");
        assert_eq!(sealed.len(), 12 + plaintext.len() + 16, "IV || ciphertext || tag");
        let opened = user.decrypt(key, &sealed, b"ceremony-42").expect("decrypt");
        assert_eq!(opened.as_slice(), plaintext);
        assert!(user.decrypt(key, &sealed, b"ceremony-43").is_err(), "other AAD");
        let mut altered = sealed.clone();
        altered[14] ^= 1;
        assert!(user.decrypt(key, &altered, b"ceremony-42").is_err(), "altered ciphertext");

        assert_proven(
            &user.prove_non_exportable(key).expect("proof"),
            &["CKA_VALUE"],
            SECRET_KEY_REFUSAL,
        );
        let objects = user.objects().expect("objects");
        assert_eq!(objects.len(), 1, "the temporary wrapping key is gone: {objects:?}");
    }
}

kryoptic_test! {
    fn ed25519_is_refused_by_name_before_anything_is_created() {
        let fresh = fresh_token();
        let user = fresh.login_user();
        let spec = KeySpec::new(KeyAlgorithm::Ed25519, KeyUsage::Sign);
        let error = user.generate(&spec, "ed25519-root").expect_err("no EdDSA in this build");
        let HsmError::MissingMechanisms { shortfalls, .. } = &error else {
            panic!("expected the capability shortfall, got {error:?}");
        };
        let named: Vec<(&str, Stage)> =
            shortfalls.iter().map(|s| (s.mechanism.as_str(), s.stage)).collect();
        assert_eq!(
            named,
            [
                ("CKM_EC_EDWARDS_KEY_PAIR_GEN", Stage::Generation),
                ("CKM_EDDSA", Stage::Use)
            ]
        );
        let shown = error.to_string();
        for expected in [
            "CKM_EC_EDWARDS_KEY_PAIR_GEN for generating the ed25519 key \
             (CKM_EC_EDWARDS_KEY_PAIR_GEN is not in the token's mechanism list)",
            "CKM_EDDSA for signing with the ed25519 key",
            "Nothing was written to the token",
        ] {
            assert!(shown.contains(expected), "{shown}");
        }
        assert!(user.objects().expect("objects").is_empty(), "nothing was created");
    }
}

kryoptic_test! {
    fn the_missing_padded_aes_wrap_is_named_and_the_unpadded_one_is_used() {
        let fresh = fresh_token();
        let padded_only = RequiredMechanism {
            candidates: vec![cryptoki::mechanism::MechanismType::AES_KEY_WRAP_PAD],
            functions: vec![MechanismFunction::Wrap],
            stage: Stage::NonExportabilityProof,
            purpose: "a padded wrap".into(),
            rsa_bits: None,
        };
        let shortfalls = fresh.token.shortfalls(&[padded_only]).expect("mechanism list");
        assert_eq!(shortfalls.len(), 1);
        assert_eq!(shortfalls[0].mechanism, "CKM_AES_KEY_WRAP_PAD");
        assert_eq!(
            shortfalls[0].reason,
            "CKM_AES_KEY_WRAP_PAD is not in the token's mechanism list"
        );
        // Every key type but Ed25519 has all it needs, thanks to the fallback.
        for algorithm in KeyAlgorithm::ALL {
            for usage in [KeyUsage::Sign, KeyUsage::Encrypt] {
                let spec = KeySpec::new(algorithm, usage);
                if spec.validate().is_err() || algorithm == KeyAlgorithm::Ed25519 {
                    continue;
                }
                let missing = fresh
                    .token
                    .shortfalls(&spec.required_mechanisms())
                    .expect("mechanism list");
                assert!(missing.is_empty(), "{spec}: {missing:?}");
            }
        }
    }
}

kryoptic_test! {
    fn mechanisms_are_unavailable_before_initialization_and_said_so() {
        let module = kryoptic();
        let blank = module.uninitialized_token().expect("kryoptic's blank token");
        let spec = KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign);
        let error = blank
            .shortfalls(&spec.required_mechanisms())
            .expect_err("kryoptic lists nothing before C_InitToken");
        assert!(matches!(error, HsmError::MechanismsUnavailable { .. }), "{error:?}");
        let shown = error.to_string();
        assert!(shown.contains("the token's mechanisms cannot be listed yet"), "{shown}");
        assert!(shown.contains("CKR_TOKEN_NOT_INITIALIZED"), "{shown}");
    }
}

kryoptic_test! {
    fn the_tenth_wrong_user_pin_locks_it_and_the_tool_then_stops_asking() {
        let fresh = fresh_token();
        let wrong = testing::pin("not-the-right-pin-4242");
        for attempt in 1..KRYOPTIC_MAX_LOGIN_ATTEMPTS {
            let error = fresh.token.login(Role::User, &wrong).expect_err("wrong PIN");
            assert_eq!(error.ckr(), Some("CKR_PIN_INCORRECT"), "attempt {attempt}: {error}");
        }
        let error = fresh.token.login(Role::User, &wrong).expect_err("tenth wrong PIN");
        assert_eq!(error.ckr(), Some("CKR_PIN_LOCKED"), "{error}");
        let shown = error.to_string();
        assert!(
            shown.contains("C_Login returned CKR_PIN_LOCKED: the PIN is locked; the tool makes \
                            no further attempt"),
            "{shown}"
        );
        assert!(!shown.contains("4242"), "{shown}");

        // The token now reports the lock, and the tool refuses to send even
        // the right PIN.
        let info = fresh.token.refresh().expect("token info");
        assert!(info.user_pin_locked, "{info:?}");
        let error = fresh
            .token
            .login(Role::User, &fresh.user_pin)
            .expect_err("locked");
        assert!(matches!(error, HsmError::PinLocked { role: Role::User }), "{error:?}");
        assert!(error.to_string().contains("no login was attempted"), "{error}");
        // The SO is unaffected.
        drop(
            fresh
                .token
                .login(Role::SecurityOfficer, &fresh.so_pin)
                .expect("SO login"),
        );
    }
}

kryoptic_test! {
    /// The proof accepts kryoptic's CKR_KEY_FUNCTION_NOT_PERMITTED for a
    /// private key: this control shows, with bare cryptoki, that the answer
    /// follows CKA_EXTRACTABLE alone. The same key type made extractable
    /// leaves the token under the same wrapping key.
    fn kryoptic_refuses_to_wrap_a_private_key_because_of_cka_extractable() {
        use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
        use cryptoki::error::{Error, RvError};
        use cryptoki::mechanism::Mechanism;
        use cryptoki::object::{Attribute, KeyType, ObjectClass};
        use cryptoki::session::UserType;
        use cryptoki::types::AuthPin;

        let fresh = fresh_token();
        let path = std::env::var_os(MODULE_ENV).expect("the parent sets KRYOPTIC_MODULE");
        let pkcs11 = Pkcs11::new(Path::new(&path)).expect("load kryoptic");
        match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(error) => panic!("initialize: {error}"),
        }
        let slot = pkcs11.get_slots_with_token().expect("slots")[0];
        let session = pkcs11.open_rw_session(slot).expect("session");
        session
            .login(UserType::User, Some(&AuthPin::from(fresh.user_pin.expose())))
            .expect("user login");
        let wrapping_key = session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::ValueLen(32.into()),
                    Attribute::Wrap(true),
                    Attribute::Extractable(false),
                ],
            )
            .expect("wrapping key");
        let p256 = Attribute::EcParams(vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
        let private_key = |extractable: bool| {
            let (_, private) = session
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[Attribute::Token(false), Attribute::Verify(true), p256.clone()],
                    &[
                        Attribute::Token(false),
                        Attribute::Class(ObjectClass::PRIVATE_KEY),
                        Attribute::KeyType(KeyType::EC),
                        Attribute::Sign(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(extractable),
                    ],
                )
                .expect("P-256 key pair");
            private
        };

        let locked = private_key(false);
        for mechanism in [Mechanism::AesKeyWrap, Mechanism::AesCbcPad([7; 16])] {
            match session.wrap_key(&mechanism, wrapping_key, locked) {
                Err(Error::Pkcs11(RvError::KeyFunctionNotPermitted, _)) => {}
                other => panic!("{mechanism:?} on a non-extractable key: {other:?}"),
            }
        }
        let open = private_key(true);
        let wrapped = session
            .wrap_key(&Mechanism::AesCbcPad([7; 16]), wrapping_key, open)
            .expect("an extractable private key wraps");
        assert!(wrapped.len() > 32, "{} bytes", wrapped.len());
    }
}

kryoptic_test! {
    /// The whole root ceremony, headless, by the real binary, on kryoptic
    /// (which states no maximum PIN length: ulMaxPinLen = 0).
    fn the_root_ceremony_runs_headless_on_kryoptic() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let rehearsal = repo.join("ceremonies/rehearsal");
        let dir = tempfile::tempdir().expect("tempdir");
        let module = std::env::var(MODULE_ENV).expect("the parent sets KRYOPTIC_MODULE");
        let bindings = std::fs::read_to_string(rehearsal.join("root-key-generation.bindings.yaml"))
            .expect("bindings")
            .replace("hsm:\n", &format!("hsm:\n  module: {module}\n"))
            .replace("  expect: { model: SoftHSM v2 }\n", "");
        let bindings_path = dir.path().join("bindings.yaml");
        std::fs::write(&bindings_path, bindings).expect("write bindings");
        let answers = std::fs::read_to_string(rehearsal.join("root-key-generation.answers.yaml"))
            .expect("answers")
            .replace(": keys/", &format!(": {}/", rehearsal.join("keys").display()));
        let answers_path = dir.path().join("answers.yaml");
        std::fs::write(&answers_path, answers).expect("write answers");
        let out_dir = dir.path().join("out");
        let output = run(
            Command::new(env!("CARGO_BIN_EXE_keyceremony"))
                .arg("run")
                .arg(repo.join("ceremonies/root-key-generation.yaml"))
                .arg("--bindings")
                .arg(&bindings_path)
                .arg("--state-dir")
                .arg(dir.path().join("state"))
                .arg("--out")
                .arg(&out_dir)
                .arg("--headless")
                .arg("--answers")
                .arg(&answers_path),
        );
        assert!(output.status.success(), "{}", text(&output));
        let transcript = std::fs::read_dir(&out_dir)
            .expect("out")
            .map(|e| e.expect("entry").path())
            .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .expect("transcript");
        let verified = run(
            Command::new(env!("CARGO_BIN_EXE_keyceremony"))
                .arg("verify")
                .arg(&transcript),
        );
        assert!(verified.status.success(), "{}", text(&verified));
        let shown = text(&verified);
        assert!(shown.starts_with("VALID: ceremony completed"), "{shown}");
        // The transcript names kryoptic as the HSM, not SoftHSM2.
        let lines = std::fs::read_to_string(&transcript).expect("read");
        assert!(lines.contains("\"manufacturer\":\"Kryoptic"), "the token is kryoptic");
    }
}

kryoptic_test! {
    /// `keyceremony hsm selftest` on kryoptic: every row its mechanisms
    /// allow passes, Ed25519 is named unsupported, and the exit is 0.
    fn the_selftest_passes_what_kryoptic_supports_and_names_the_rest() {
        let module = std::env::var(MODULE_ENV).expect("the parent sets KRYOPTIC_MODULE");
        let output = run(
            Command::new(env!("CARGO_BIN_EXE_keyceremony"))
                .args(["hsm", "selftest", "--module", &module]),
        );
        let shown = text(&output);
        assert!(output.status.success(), "{shown}");
        assert!(shown.contains("23 passed, 0 failed, 4 unsupported"), "{shown}");
        // kryoptic cannot hold the trusted KEK the tool requires: said so,
        // not passed.
        assert!(
            shown.contains("UNSUPPORTED  a backup blob does not unwrap without a login"),
            "{shown}"
        );
        assert!(!shown.contains("FAIL "), "{shown}");
        assert!(
            shown.contains("UNSUPPORTED  ed25519 sign: generates inside the HSM"),
            "{shown}"
        );
        assert!(shown.contains("CKM_EC_EDWARDS_KEY_PAIR_GEN"), "{shown}");
    }
}
