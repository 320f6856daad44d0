//! What the tool's HSM layer costs over bare cryptoki, on one fresh SoftHSM2
//! token, in one run:
//!
//!     cargo run --release --example hsm_bench [SIGN_ROUNDS] [GENERATE_ROUNDS]
//!
//! - signing: `LoggedIn::sign` (finds the key by class, CKA_ID and label,
//!   hashes, C_Sign, DER-encodes) against hashing plus a bare C_Sign on the
//!   same key handle;
//! - generation: `LoggedIn::generate` (label check, capability check, key id
//!   from the RNG, C_GenerateKeyPair, attribute read-back, policy, SPKI)
//!   against a bare C_GenerateKeyPair with the same templates. The read-back
//!   (the same C_GetAttributeValue calls, made bare on the new objects) is
//!   measured on its own and reported both ways.
//!
//! Rounds alternate tool and bare calls so drift hits both alike; the table
//! shows medians. Target (issue 3): the tool's layer adds less than 10 %.

use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use keyceremony::hsm::softhsm::DEFAULT_MODULE;
use keyceremony::hsm::{KeyAlgorithm, KeySpec, KeyUsage, LoggedIn, testing};
use sha2::{Digest, Sha256, Sha384};

const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const MESSAGE: &[u8] = b"the ceremony transcript head, 32+ bytes of it";
/// Not measured: the first calls warm caches and the token's object list.
const WARM_UP: usize = 5;
/// The attributes `LoggedIn::generate` reads back from a new private key.
const READ_BACK: [AttributeType; 22] = [
    AttributeType::Class,
    AttributeType::KeyType,
    AttributeType::EcParams,
    AttributeType::Modulus,
    AttributeType::ValueLen,
    AttributeType::Token,
    AttributeType::Private,
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::AlwaysSensitive,
    AttributeType::NeverExtractable,
    AttributeType::Local,
    AttributeType::Modifiable,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Sign,
    AttributeType::SignRecover,
    AttributeType::Verify,
    AttributeType::VerifyRecover,
    AttributeType::Wrap,
    AttributeType::Unwrap,
    AttributeType::Derive,
];

fn main() {
    let mut args = std::env::args().skip(1);
    let mut rounds = |default: usize| {
        args.next()
            .and_then(|arg| arg.parse().ok())
            .unwrap_or(default)
    };
    let sign_rounds = rounds(300);
    let generate_rounds = rounds(40);

    let fresh = testing::fresh_user_token("hsm-bench").expect("a fresh SoftHSM2 token");
    let user = fresh.login_user().expect("user login");
    // Login state is per application and token: this bare session shares
    // the tool's user login.
    let bare = bare_session(fresh.token.info().slot_id);

    println!(
        "keyceremony HSM layer vs bare cryptoki (SoftHSM2, one token; medians; \
         {sign_rounds} signatures, {generate_rounds} generations per curve)"
    );
    println!(
        "{:<24} {:>12} {:>12} {:>9}",
        "operation", "tool", "bare", "tool/bare"
    );
    let mut worst: f64 = 0.0;
    for (algorithm, oid) in [
        (KeyAlgorithm::EcP256, OID_P256),
        (KeyAlgorithm::EcP384, OID_P384),
    ] {
        let sign = bench_sign(&user, &bare, algorithm, sign_rounds);
        let generate = bench_generate(&user, &bare, algorithm, oid, generate_rounds);
        row(&format!("{algorithm} sign"), sign.tool, sign.bare);
        row(
            &format!("{algorithm} generate"),
            generate.tool,
            generate.bare,
        );
        row("  of which read-back", generate.read_back, Duration::ZERO);
        let without_read_back = generate.tool.saturating_sub(generate.read_back);
        row("  generate - read-back", without_read_back, generate.bare);
        worst = worst
            .max(ratio(sign.tool, sign.bare))
            .max(ratio(without_read_back, generate.bare));
    }
    println!(
        "largest overhead (sign, generate without read-back): {:+.1} % (target < 10 %)",
        (worst - 1.0) * 100.0
    );
}

struct Timings {
    tool: Duration,
    bare: Duration,
    read_back: Duration,
}

fn bench_sign(user: &LoggedIn, bare: &Session, algorithm: KeyAlgorithm, rounds: usize) -> Timings {
    let label = format!("bench-sign-{algorithm}");
    let key = user
        .generate(&KeySpec::new(algorithm, KeyUsage::Sign), &label)
        .expect("generate the signing key")
        .key;
    let handle = find_one(bare, ObjectClass::PRIVATE_KEY, &label);
    let bare_sign = || {
        let digest = match algorithm {
            KeyAlgorithm::EcP256 => Sha256::digest(MESSAGE).to_vec(),
            _ => Sha384::digest(MESSAGE).to_vec(),
        };
        bare.sign(&Mechanism::Ecdsa, handle, &digest)
            .expect("bare C_Sign")
    };
    let tool_sign = || user.sign(&key, MESSAGE).expect("LoggedIn::sign");
    for _ in 0..WARM_UP {
        tool_sign();
        bare_sign();
    }
    let (mut tool, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        tool.push(time(|| drop(tool_sign())));
        plain.push(time(|| drop(bare_sign())));
    }
    Timings {
        tool: median(tool),
        bare: median(plain),
        read_back: Duration::ZERO,
    }
}

fn bench_generate(
    user: &LoggedIn,
    bare: &Session,
    algorithm: KeyAlgorithm,
    oid: &[u8],
    rounds: usize,
) -> Timings {
    let spec = KeySpec::new(algorithm, KeyUsage::Sign);
    let (mut tool, mut plain, mut read_back) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..WARM_UP + rounds {
        let label = format!("bench-tool-{algorithm}-{round}");
        let took = time(|| drop(user.generate(&spec, &label).expect("generate")));
        // The reads generate makes after C_GenerateKeyPair (private key
        // attributes for the policy, public key for the SPKI), timed as bare
        // calls on the same objects.
        let private = find_one(bare, ObjectClass::PRIVATE_KEY, &label);
        let public = find_one(bare, ObjectClass::PUBLIC_KEY, &label);
        let reading = time(|| {
            bare.get_attributes(private, &READ_BACK)
                .expect("read the private key's attributes");
            bare.get_attributes(public, &[AttributeType::EcParams, AttributeType::EcPoint])
                .expect("read the public key");
        });
        let bare_label = format!("bench-bare-{algorithm}-{round}");
        let bare_took = time(|| bare_generate(bare, oid, &bare_label, round));
        if round >= WARM_UP {
            tool.push(took);
            read_back.push(reading);
            plain.push(bare_took);
        }
        // A ceremony token holds a handful of keys: keep this one that small,
        // or every search (the tool's duplicate-label check) would grow with
        // the rounds.
        for label in [&label, &bare_label] {
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                bare.destroy_object(find_one(bare, class, label))
                    .expect("destroy a benchmark key");
            }
        }
    }
    Timings {
        tool: median(tool),
        bare: median(plain),
        read_back: median(read_back),
    }
}

/// C_GenerateKeyPair with the templates `LoggedIn::generate` sends for an EC
/// signing key.
fn bare_generate(session: &Session, oid: &[u8], label: &str, round: usize) {
    let id = (round as u128).to_be_bytes().to_vec();
    let label = label.as_bytes().to_vec();
    let public = [
        Attribute::EcParams(oid.to_vec()),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Modifiable(false),
        Attribute::Label(label.clone()),
        Attribute::Id(id.clone()),
        Attribute::Encrypt(false),
        Attribute::Verify(true),
        Attribute::VerifyRecover(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Label(label),
        Attribute::Id(id),
        Attribute::Decrypt(false),
        Attribute::Sign(true),
        Attribute::SignRecover(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ];
    session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .expect("bare C_GenerateKeyPair");
}

fn bare_session(slot_id: u64) -> Session {
    let pkcs11 = Pkcs11::new(DEFAULT_MODULE).expect("load SoftHSM2");
    // The tool initialized the library already; this context shares it.
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(error) => panic!("C_Initialize: {error}"),
    }
    let slot = pkcs11
        .get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|slot| slot.id() == slot_id)
        .expect("the tool's slot");
    pkcs11.open_rw_session(slot).expect("bare session")
}

fn find_one(session: &Session, class: ObjectClass, label: &str) -> ObjectHandle {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .expect("C_FindObjects");
    assert_eq!(found.len(), 1, "{label}");
    found[0]
}

fn time(operation: impl FnOnce()) -> Duration {
    let started = Instant::now();
    operation();
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn ratio(tool: Duration, bare: Duration) -> f64 {
    tool.as_secs_f64() / bare.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn row(operation: &str, tool: Duration, bare: Duration) {
    let shown = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    if bare.is_zero() {
        println!("{operation:<24} {:>12} {:>12} {:>9}", shown(tool), "", "");
    } else {
        println!(
            "{operation:<24} {:>12} {:>12} {:>8.2}x",
            shown(tool),
            shown(bare),
            ratio(tool, bare)
        );
    }
}
