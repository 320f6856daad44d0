//! What the HSM layer refuses, on a real SoftHSM2 token: duplicate labels,
//! re-initialization, wrong PINs, wrong roles, malformed inputs. Each error
//! must say what happened in words a ceremony participant can act on.

use std::path::Path;

use keyceremony::hsm::{HsmError, KeyAlgorithm, KeySpec, KeyUsage, Module, Role, softhsm, testing};

fn p384() -> KeySpec {
    KeySpec::new(KeyAlgorithm::EcP384, KeyUsage::Sign)
}

#[test]
fn a_second_key_with_the_same_label_is_refused() {
    let fresh = testing::fresh_user_token("duplicate").expect("fresh token");
    let user = fresh.login_user().expect("user login");
    let first = user.generate(&p384(), "root").expect("first key");
    for spec in [
        p384(),
        KeySpec::new(KeyAlgorithm::Aes256, KeyUsage::Encrypt),
    ] {
        let error = user.generate(&spec, "root").expect_err("same label");
        assert!(
            matches!(error, HsmError::DuplicateLabel { ref label, count: 2 } if label == "root"),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("never creates a second key with the same label")
        );
    }
    // Nothing was added or replaced.
    let objects = user.objects().expect("objects");
    assert_eq!(objects.len(), 2);
    assert!(objects.iter().all(|object| object.id_hex == first.id_hex));
}

#[test]
fn an_initialized_token_is_never_initialized_again() {
    let fresh = testing::fresh_user_token("reinit").expect("fresh token");
    let generated = {
        let user = fresh.login_user().expect("user login");
        user.generate(&p384(), "keep-me").expect("generate")
    };
    let error = fresh
        .token
        .initialize(&fresh.so_pin, "replacement")
        .expect_err("already initialized");
    assert!(
        matches!(error, HsmError::AlreadyInitialized { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("never re-initializes"),
        "{error}"
    );
    // The token and its key are untouched.
    let token = fresh
        .module
        .token_by_serial(&fresh.serial)
        .expect("by serial");
    assert_eq!(token.info().label, fresh.label);
    let user = token.login(Role::User, &fresh.user_pin).expect("login");
    assert_eq!(
        user.find_key("keep-me").expect("still there"),
        generated.key
    );
}

#[test]
fn a_wrong_pin_names_ckr_pin_incorrect_and_never_shows_the_pin() {
    let fresh = testing::fresh_user_token("wrong-pin").expect("fresh token");
    let wrong = testing::pin("not-the-right-pin-4242");
    for role in [Role::User, Role::SecurityOfficer] {
        let error = fresh.token.login(role, &wrong).expect_err("wrong PIN");
        assert_eq!(error.ckr(), Some("CKR_PIN_INCORRECT"));
        let shown = error.to_string();
        assert!(
            shown.contains(
                "C_Login returned CKR_PIN_INCORRECT: the PIN was refused; the tool \
                            never retries a PIN — check the shares"
            ),
            "{shown}"
        );
        assert!(shown.contains(&format!("logging in as {role}")), "{shown}");
        let debug = format!("{error:?}");
        assert!(
            !shown.contains("4242") && !debug.contains("4242"),
            "{debug}"
        );
    }
    // One attempt per call: SoftHSM2 flags the failures it counted.
    let info = fresh.token.refresh().expect("refresh");
    assert!(info.user_pin_count_low && info.so_pin_count_low, "{info:?}");
}

#[test]
fn pin_lengths_are_checked_before_the_token_sees_the_pin() {
    let fresh = testing::fresh_user_token("pin-length").expect("fresh token");
    let info = fresh.token.info();
    assert_eq!((info.min_pin_len, info.max_pin_len), (4, 255));
    let error = fresh
        .token
        .login(Role::User, &testing::pin("123"))
        .expect_err("too short");
    assert!(
        matches!(
            error,
            HsmError::PinLength {
                role: Role::User,
                length: 3,
                min: 4,
                max: 255
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("nothing was sent to the token"));
    // No login was attempted, so no failure was counted.
    assert!(!fresh.token.refresh().expect("refresh").user_pin_count_low);
}

#[test]
fn roles_are_enforced() {
    let fresh = testing::fresh_user_token("roles").expect("fresh token");
    let so = fresh.login_so().expect("SO login");
    let error = so
        .generate(&p384(), "k")
        .expect_err("the SO does not generate");
    assert!(
        matches!(
            error,
            HsmError::WrongRole {
                needed: Role::User,
                actual: Role::SecurityOfficer,
                ..
            }
        ),
        "{error:?}"
    );
    // While the SO is logged in, the user cannot log in too.
    let error = fresh.login_user().expect_err("another role is logged in");
    assert_eq!(
        error.ckr(),
        Some("CKR_USER_ANOTHER_ALREADY_LOGGED_IN"),
        "{error}"
    );
    assert!(error.to_string().contains("log out first"), "{error}");
    drop(so);

    let user = fresh.login_user().expect("user login after SO logout");
    let error = user
        .init_user_pin(&testing::pin("another-user-pin"))
        .expect_err("only the SO sets the user PIN");
    assert!(matches!(
        error,
        HsmError::WrongRole {
            needed: Role::SecurityOfficer,
            ..
        }
    ));
}

#[test]
fn unusable_inputs_are_refused_before_the_token_acts() {
    let fresh = testing::fresh_user_token("inputs").expect("fresh token");
    let user = fresh.login_user().expect("user login");
    let error = user
        .generate(&KeySpec::new(KeyAlgorithm::EcP256, KeyUsage::Encrypt), "k")
        .expect_err("EC encryption");
    assert!(
        matches!(error, HsmError::UnsupportedSpec { .. }),
        "{error:?}"
    );
    let error = user
        .generate(&p384(), &"k".repeat(65))
        .expect_err("long label");
    assert!(matches!(error, HsmError::InvalidLabel { .. }), "{error:?}");
    let error = user.find_key("absent").expect_err("no such key");
    assert!(matches!(error, HsmError::KeyNotFound { .. }), "{error:?}");
    assert!(
        user.objects().expect("objects").is_empty(),
        "nothing was created"
    );

    // Token labels: SoftHSM2 would cut a 33-byte label silently.
    let spare = fresh.module.uninitialized_token().expect("spare token");
    let error = spare
        .initialize(&fresh.so_pin, &"L".repeat(33))
        .expect_err("label too long");
    assert!(error.to_string().contains("at most 32 bytes"), "{error}");
}

#[test]
fn modules_and_tokens_are_found_by_path_and_serial() {
    let module = testing::module().expect("module");
    // A second load of the same library, spelled differently, is the same
    // instance: C_Initialize twice would fail.
    let path = Path::new("/usr/lib/softhsm/../softhsm/libsofthsm2.so");
    let again = Module::load(path).expect("load again");
    assert_eq!(again.path(), module.path());
    let info = again.info().expect("module info");
    assert_eq!(info.manufacturer, "SoftHSM");
    assert!(info.cryptoki_version.starts_with("2.") || info.cryptoki_version.starts_with("3."));

    let error = Module::load(Path::new("/nonexistent/libpkcs11.so")).expect_err("no file");
    assert!(matches!(error, HsmError::Load { .. }), "{error:?}");
    assert_eq!(softhsm::DEFAULT_MODULE, "/usr/lib/softhsm/libsofthsm2.so");

    let fresh = testing::fresh_token("lookup").expect("fresh token");
    // Regression: listing while another test initialized its token
    // sometimes showed no spare.
    let listed = testing::while_no_token_initializes(|| module.tokens().expect("tokens"));
    assert!(listed.iter().any(|token| token.serial == fresh.serial));
    assert!(
        listed.iter().any(|token| !token.initialized),
        "SoftHSM2 keeps a spare"
    );
    let by_label = module.token_by_label(&fresh.label).expect("by label");
    assert_eq!(by_label.info().serial, fresh.serial);
    assert!(matches!(
        module.token_by_serial("0000000000000000"),
        Err(HsmError::NoToken { .. })
    ));
    assert!(matches!(
        module.token_by_label("no-such-token"),
        Err(HsmError::NoToken { .. })
    ));

    let mechanisms = fresh.token.mechanisms().expect("mechanisms");
    for needed in [
        "CKM_EC_KEY_PAIR_GEN",
        "CKM_ECDSA",
        "CKM_EDDSA",
        "CKM_AES_GCM",
    ] {
        assert!(
            mechanisms.iter().any(|m| m == needed),
            "{needed} in {mechanisms:?}"
        );
    }
    let first = fresh.token.random(32).expect("random");
    let second = fresh.token.random(32).expect("random");
    assert_eq!(first.len(), 32);
    assert_ne!(*first, *second);
}
