//! The share code and share text: checksum strength, round trips, and one
//! test per way a code or text is refused.

mod quorum_support;

use keyceremony::quorum::{CODE_LEN, Share, ShareError};
use quorum_support::*;

const CEREMONY: &str = "root-2025";

fn sample() -> Split {
    make_split(CEREMONY, "so-pin", 3, 5)
}

fn from_code(code: &str) -> Result<Share, ShareError> {
    Share::from_code(code, CEREMONY, &name("so-pin"))
}

#[test]
fn every_single_substitution_is_rejected() {
    let split = sample();
    for share in &split.shares {
        let bare = bare_code(share);
        assert_eq!(bare.len(), CODE_LEN);
        let mut tried = 0;
        for position in 0..bare.len() {
            for replacement in CHARSET.chars() {
                if bare.as_bytes()[position] as char == replacement {
                    continue;
                }
                let mut typed = bare.clone().into_bytes();
                typed[position] = replacement as u8;
                let typed = format!("kc1{}", String::from_utf8(typed).expect("ascii"));
                assert_eq!(
                    from_code(&typed).err(),
                    Some(ShareError::Checksum),
                    "substitution at {position} must be caught by the checksum"
                );
                tried += 1;
            }
        }
        assert_eq!(tried, CODE_LEN * 31);
    }
}

#[test]
fn every_adjacent_swap_is_rejected() {
    let split = sample();
    for share in &split.shares {
        let bare = bare_code(share);
        let mut swaps = 0;
        for position in 0..bare.len() - 1 {
            let mut typed = bare.clone().into_bytes();
            if typed[position] == typed[position + 1] {
                continue; // swapping equal characters changes nothing
            }
            typed.swap(position, position + 1);
            let typed = format!("kc1{}", String::from_utf8(typed).expect("ascii"));
            assert_eq!(
                from_code(&typed).err(),
                Some(ShareError::Checksum),
                "swap at {position} must be caught"
            );
            swaps += 1;
        }
        assert!(swaps > 50, "the sample code has many distinct neighbours");
    }
}

#[test]
fn code_and_text_round_trip() {
    let split = sample();
    for share in &split.shares {
        let code = share.code();
        assert!(code.starts_with("kc1 "), "{}", code.len());
        assert_eq!(code.split_whitespace().count(), 15, "kc1 and 14 groups");
        assert!(code.split_whitespace().skip(1).all(|g| g.len() == 5));

        let from_code = from_code(&code).expect("own code decodes");
        assert_eq!(from_code.metadata(), share.metadata());
        assert_eq!(from_code.commitment(), share.commitment());

        let text = share.to_text();
        let parsed = Share::parse(&text).expect("own text parses");
        assert_eq!(parsed.metadata(), share.metadata());
        assert_eq!(parsed.commitment(), share.commitment());
        assert_eq!(parsed.to_text().as_str(), text.as_str());
    }
}

#[test]
fn text_says_what_it_is() {
    let split = sample();
    let text = split.shares[1].to_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "keyceremony share v1");
    assert_eq!(lines[1], "ceremony: root-2025");
    assert_eq!(lines[2], "secret: so-pin");
    assert_eq!(lines[3], "share: 2 of 5, any 3 recover");
    assert!(lines[4].starts_with("code: kc1 "));
    assert!(lines[5].starts_with("          "), "continuation aligned");
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().all(|l| l.len() <= 80), "fits a terminal");
}

#[test]
fn typing_is_forgiving_about_case_spaces_and_dashes() {
    let split = sample();
    let share = &split.shares[2];
    let bare = bare_code(share);
    let shouted = format!("KC1-{}", bare.to_uppercase());
    let spaced: String = format!("kc1{bare}")
        .chars()
        .flat_map(|c| [c, ' '])
        .collect();
    let wrapped = share.code().replace(' ', "\n\t");
    for typed in [shouted, spaced, wrapped] {
        let parsed = from_code(&typed).expect("forgiving input decodes");
        assert_eq!(parsed.commitment(), share.commitment());
    }
}

#[test]
fn code_values_show_version_index_and_quorum() {
    let split = sample();
    let data = values(&bare_code(&split.shares[3]));
    assert_eq!(&data[..4], &[1, 4, 3, 5]);
}

#[test]
fn refuses_malformed_codes_with_clear_errors() {
    let split = sample();
    let bare = bare_code(&split.shares[0]);

    assert_eq!(from_code("  - ").err(), Some(ShareError::EmptyCode));
    assert_eq!(
        from_code(&format!("kx1{bare}")).err(),
        Some(ShareError::MissingPrefix)
    );
    assert_eq!(from_code(&bare).err(), Some(ShareError::MissingPrefix));

    let mut with_o = bare.clone().into_bytes();
    with_o[7] = b'o';
    let error = from_code(&format!("kc1{}", String::from_utf8(with_o).expect("ascii")))
        .err()
        .expect("o is not a code character");
    assert_eq!(
        error,
        ShareError::InvalidCharacter {
            group: 2,
            position: 3
        }
    );
    assert!(error.to_string().contains("never 1, b, i or o"));

    let short = format!("kc1{}", &bare[..69]);
    let error = from_code(&short).err().expect("one character missing");
    assert!(
        error.to_string().contains("69 characters") && error.to_string().contains("missing"),
        "{error}"
    );
    let long = format!("kc1{bare}q");
    assert!(matches!(
        from_code(&long),
        Err(ShareError::WrongLength {
            found: 71,
            expected: 70,
            ..
        })
    ));
}

#[test]
fn refuses_index_zero_even_with_a_valid_checksum() {
    // The attack from notes/shares.md: a forged share with x = 0 would make
    // the interpolation return the forger's chosen value.
    let split = sample();
    let forged = forge(&split.shares[0], 1, 0);
    assert_eq!(from_code(&forged).err(), Some(ShareError::IndexZero));
}

#[test]
fn refuses_bad_fields_behind_a_valid_checksum() {
    let split = sample();
    let share = &split.shares[0];
    assert_eq!(
        from_code(&forge(share, 0, 2)).err(),
        Some(ShareError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
    let error = from_code(&forge(share, 2, 1)).err().expect("k = 1");
    assert!(
        error
            .to_string()
            .contains("a threshold of 1 would put the secret in every share"),
        "{error}"
    );
    assert!(matches!(
        from_code(&forge(share, 3, 17)),
        Err(ShareError::InvalidPolicy { k: 3, n: 17, .. })
    ));
    assert_eq!(
        from_code(&forge(share, 1, 6)).err(),
        Some(ShareError::IndexAboveShares { index: 6, n: 5 })
    );
    // The last value character carries 1 data bit and 4 padding bits.
    let last = values(&bare_code(share))[63];
    assert_eq!(last & 0b01111, 0, "padding is zero as written");
    assert_eq!(
        from_code(&forge(share, 63, last | 1)).err(),
        Some(ShareError::NonZeroPadding)
    );
}

#[test]
fn from_code_refuses_another_ceremony_or_secret() {
    let split = sample();
    let code = split.shares[0].code();
    assert_eq!(
        Share::from_code(&code, "root-2024", &name("so-pin")).err(),
        Some(ShareError::OtherCeremony {
            expected: "root-2024".to_owned()
        })
    );
    let error = Share::from_code(&code, CEREMONY, &name("user-pin"))
        .err()
        .expect("other secret");
    assert_eq!(
        error,
        ShareError::OtherSecret {
            expected: name("user-pin")
        }
    );
    assert!(error.to_string().contains("user-pin"));
}

#[test]
fn parse_refuses_edited_or_mixed_up_texts() {
    let split = sample();
    let text = split.shares[0].to_text();

    let other_ceremony = text.replace("ceremony: root-2025", "ceremony: root-2026");
    assert_eq!(
        Share::parse(&other_ceremony).err(),
        Some(ShareError::HeaderMismatch { field: "ceremony" })
    );
    let other_secret = text.replace("secret: so-pin", "secret: user-pin");
    assert_eq!(
        Share::parse(&other_secret).err(),
        Some(ShareError::HeaderMismatch { field: "secret" })
    );
    let other_index = text.replace("share: 1 of 5", "share: 2 of 5");
    assert_eq!(
        Share::parse(&other_index).err(),
        Some(ShareError::HeaderMismatch {
            field: "share index or quorum"
        })
    );
    let no_secret: String = text
        .lines()
        .filter(|l| !l.starts_with("secret:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        Share::parse(&no_secret).err(),
        Some(ShareError::MissingField { field: "secret" })
    );
    let twice = text.replace("secret: so-pin", "secret: so-pin\nsecret: so-pin");
    assert!(matches!(
        Share::parse(&twice),
        Err(ShareError::Text { line: 4, .. })
    ));
    let future = text.replace("keyceremony share v1", "keyceremony share v2");
    let error = Share::parse(&future).err().expect("v2");
    assert!(error.to_string().contains("format version"), "{error}");
    let unknown = text.replace("secret:", "colour: blue\nsecret:");
    assert!(
        Share::parse(&unknown)
            .err()
            .expect("unknown field")
            .to_string()
            .contains("line 3 of the share text: unknown field")
    );
    let corrupted = text.replacen("code: kc1 ", "code: kc1 q", 1);
    assert!(matches!(
        Share::parse(&corrupted),
        Err(ShareError::WrongLength { .. })
    ));
}

#[test]
fn parse_accepts_comments_and_blank_lines() {
    let split = sample();
    let text = split.shares[4].to_text();
    let annotated = format!(
        "# Carol's share, sealed envelope 4\n\n{}\n# end\n",
        text.as_str()
    );
    let parsed = Share::parse(&annotated).expect("comments are ignored");
    assert_eq!(parsed.commitment(), split.shares[4].commitment());
}

#[test]
fn errors_never_contain_the_code() {
    let split = sample();
    let share = &split.shares[0];
    let bare = bare_code(share);
    let mut errors = Vec::new();
    let mut typo = bare.clone().into_bytes();
    typo[20] = if typo[20] == b'q' { b'p' } else { b'q' };
    errors.push(from_code(&format!(
        "kc1{}",
        String::from_utf8(typo).expect("ascii")
    )));
    errors.push(Share::from_code(
        &share.code(),
        "elsewhere",
        &name("so-pin"),
    ));
    errors.push(Share::parse(
        &share.to_text().replace("secret: so-pin", "secret: x"),
    ));
    for error in errors {
        let error = error.err().expect("refused");
        let shown = format!("{error} {error:?}");
        for group in share.code().split_whitespace().skip(1) {
            assert!(
                !shown.contains(group),
                "error shows part of the code: {shown}"
            );
        }
    }
}

/// The worked example in docs/shares.md must stay true: its shares parse, the
/// record accepts them, and they recover the documented PIN.
#[test]
fn docs_worked_example_holds() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/shares.md"))
        .expect("docs/shares.md");
    let block = |tag: &str| -> String {
        let start = doc
            .find(&format!("```{tag}\n"))
            .unwrap_or_else(|| panic!("block {tag}"))
            + tag.len()
            + 4;
        let end = start + doc[start..].find("```").expect("block end");
        doc[start..end].to_owned()
    };
    let record: keyceremony::quorum::SplitRecord =
        serde_json::from_str(&block("json split-record")).expect("record parses");
    let share1 = Share::parse(&block("text share-1")).expect("share 1 parses");
    let share3 = Share::parse(&block("text share-3")).expect("share 3 parses");
    assert_eq!(share1.index(), 1);
    assert_eq!(share3.index(), 3);
    assert_eq!(hex::encode(share1.commitment()), record.commitments[0]);

    let recovered = keyceremony::quorum::combine(
        &record,
        &[
            keyceremony::quorum::Presented {
                custodian: "Alice".to_owned(),
                share: share1,
            },
            keyceremony::quorum::Presented {
                custodian: "Carol".to_owned(),
                share: share3,
            },
        ],
    )
    .expect("the documented shares recombine");
    let pin = recovered.derive_pin(&name("so-pin"), 26);
    let documented_pin = block("text derived-pin");
    assert_eq!(pin.expose(), documented_pin.trim());
}
