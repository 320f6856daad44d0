//! Subject names from the script: a small, strict RFC 4514 subset.
//!
//! The script lists the most specific attribute first ("CN=..,O=..,C=.."),
//! as RFC 4514 does; the DER RDNSequence runs the other way (C first), so
//! the order is reversed when encoding. Only single-valued RDNs of CN, O,
//! OU, C, L and ST are accepted; `\,` `\+` `\=` `\\` escape a character.

use const_oid::ObjectIdentifier;
use der::Tag;
use der::asn1::{Any, SetOfVec};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

use super::CaError;

const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const LOCALITY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
const STATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");

/// (key, OID, RFC 5280 upper bound in characters, may repeat)
const ATTRIBUTES: [(&str, ObjectIdentifier, usize, bool); 6] = [
    ("CN", COMMON_NAME, 64, false),
    ("O", ORGANIZATION, 64, false),
    ("OU", ORGANIZATIONAL_UNIT, 64, true),
    ("C", COUNTRY, 2, false),
    ("L", LOCALITY, 128, false),
    ("ST", STATE, 128, false),
];

/// Parses `text` into a Name; errors name `field`.
pub(crate) fn parse_subject(text: &str, field: &str) -> Result<Name, CaError> {
    let refuse = |reason: String| CaError::profile(field, format!("{text:?}: {reason}"));
    let mut seen: Vec<&str> = Vec::new();
    let mut rdns = Vec::new();
    for part in split_unescaped(text, ',').map_err(&refuse)? {
        if split_unescaped(&part, '+').map_err(&refuse)?.len() > 1 {
            return Err(refuse(format!(
                "{part:?}: multi-valued RDNs are not supported (escape '+' as \\+)"
            )));
        }
        let pieces = split_unescaped(&part, '=').map_err(&refuse)?;
        let [key, value] = pieces.as_slice() else {
            return Err(refuse(format!(
                "{part:?} is not one KEY=VALUE (escape '=' as \\=)"
            )));
        };
        let key = key.trim();
        let value = unescape(value.trim());
        let Some(&(name, oid, max, repeatable)) = ATTRIBUTES
            .iter()
            .find(|(name, ..)| name.eq_ignore_ascii_case(key))
        else {
            return Err(refuse(format!(
                "unknown attribute {key:?} (use CN, O, OU, C, L, ST)"
            )));
        };
        if !repeatable && seen.contains(&name) {
            return Err(refuse(format!("{name} appears twice")));
        }
        seen.push(name);
        let length = value.chars().count();
        if length == 0 || length > max {
            return Err(refuse(format!(
                "{name} must have 1 to {max} characters, has {length}"
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(refuse(format!("{name} contains a control character")));
        }
        let encoded = if oid == COUNTRY {
            if !(length == 2 && value.chars().all(|c| c.is_ascii_uppercase())) {
                return Err(refuse(format!(
                    "C must be a two-letter upper-case country code, not {value:?}"
                )));
            }
            Any::new(Tag::PrintableString, value.as_bytes())
        } else {
            Any::new(Tag::Utf8String, value.as_bytes())
        }
        .map_err(|error| refuse(error.to_string()))?;
        let attribute = AttributeTypeAndValue {
            oid,
            value: encoded,
        };
        let set = SetOfVec::try_from(vec![attribute]).map_err(|error| refuse(error.to_string()))?;
        rdns.push(RelativeDistinguishedName(set));
    }
    if !seen.contains(&"CN") {
        return Err(refuse("a CN is required".to_string()));
    }
    rdns.reverse();
    Ok(RdnSequence(rdns))
}

/// Splits on `separator` where it is not preceded by a backslash; escapes
/// are kept for the next split. An empty piece is an error.
fn split_unescaped(text: &str, separator: char) -> Result<Vec<String>, String> {
    let mut pieces = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let escaped = chars
                .next()
                .ok_or_else(|| "ends with a lone backslash".to_string())?;
            if let Some(last) = pieces.last_mut() {
                last.push(c);
                last.push(escaped);
            }
        } else if c == separator {
            pieces.push(String::new());
        } else if let Some(last) = pieces.last_mut() {
            last.push(c);
        }
    }
    if pieces.iter().any(|piece| piece.trim().is_empty()) {
        return Err(format!("an empty part around {separator:?}"));
    }
    Ok(pieces)
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}
