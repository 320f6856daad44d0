//! The little DER the HSM layer needs, written by hand: SubjectPublicKeyInfo
//! for EC, Ed25519 and RSA public keys, ECDSA signatures as
//! ECDSA-Sig-Value, and unwrapping the OCTET STRING around CKA_EC_POINT.
//!
//! Only definite short and long lengths are produced or accepted; anything
//! else from the token is reported as malformed, never guessed at.

use base64::Engine;

use super::HsmError;

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_SEQUENCE: u8 = 0x30;

/// OID 1.2.840.10045.3.1.7 (secp256r1), as a full DER TLV (CKA_EC_PARAMS).
pub(crate) const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// OID 1.3.132.0.34 (secp384r1).
pub(crate) const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// OID 1.3.101.112 (id-Ed25519, RFC 8410).
pub(crate) const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// OID 1.2.840.10045.2.1 (id-ecPublicKey).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// OID 1.2.840.113549.1.1.1 (rsaEncryption).
const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// The curve named by a CKA_EC_PARAMS value, if it is one the tool knows.
pub fn curve_name(ec_params: &[u8]) -> Option<&'static str> {
    match ec_params {
        OID_P256 => Some("P-256"),
        OID_P384 => Some("P-384"),
        OID_ED25519 => Some("Ed25519"),
        // RFC 8410 printable-string form some modules return for Edwards keys.
        b"\x13\x0cedwards25519" => Some("Ed25519"),
        _ => None,
    }
}

fn push_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let first = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &parts.concat())
}

/// A DER INTEGER for an unsigned big-endian magnitude.
fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let first = magnitude.iter().position(|&b| b != 0);
    let trimmed = first.map_or(&[][..], |i| &magnitude[i..]);
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    // A set high bit would make the number negative: prefix a zero byte.
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    tlv(TAG_INTEGER, &content)
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(bytes.len() + 1);
    content.push(0); // no unused bits
    content.extend_from_slice(bytes);
    tlv(TAG_BIT_STRING, &content)
}

/// Splits one TLV off the front of `data`: (tag, content, rest). Lengths
/// must be in DER's shortest form.
pub(crate) fn next_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if length < 0x80 || rest[0] == 0 {
            return None;
        }
        (length, &rest[count..])
    };
    (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
}

/// Reads one TLV with the given tag that spans all of `data`; returns its
/// content.
fn read_whole_tlv(data: &[u8], tag: u8) -> Option<&[u8]> {
    let (found, content, rest) = next_tlv(data)?;
    (found == tag && rest.is_empty()).then_some(content)
}

/// The raw public point from CKA_EC_POINT, which PKCS#11 specifies as a DER
/// OCTET STRING (SoftHSM2 follows that) but some modules return bare.
pub(crate) fn ec_point(value: &[u8], raw_length: usize) -> Result<Vec<u8>, HsmError> {
    let looks_raw = value.len() == raw_length && (raw_length == 32 || value[0] == 0x04);
    let point = if looks_raw {
        value
    } else {
        read_whole_tlv(value, TAG_OCTET_STRING).ok_or_else(|| HsmError::Malformed {
            what: "CKA_EC_POINT".into(),
            detail: format!(
                "{} bytes, neither a bare point nor an OCTET STRING",
                value.len()
            ),
        })?
    };
    if point.len() != raw_length || (raw_length != 32 && point[0] != 0x04) {
        return Err(HsmError::Malformed {
            what: "CKA_EC_POINT".into(),
            detail: format!(
                "expected a {raw_length}-byte point (uncompressed for NIST curves), got {} bytes",
                point.len()
            ),
        });
    }
    Ok(point.to_vec())
}

/// A DER OCTET STRING, as PKCS#11 wants CKA_EC_POINT.
pub(crate) fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(TAG_OCTET_STRING, bytes)
}

/// SubjectPublicKeyInfo for a NIST-curve key (RFC 5480).
pub(crate) fn spki_ec(curve_oid: &[u8], point: &[u8]) -> Vec<u8> {
    sequence(&[
        &sequence(&[OID_EC_PUBLIC_KEY, curve_oid]),
        &bit_string(point),
    ])
}

/// SubjectPublicKeyInfo for an Ed25519 key (RFC 8410: no parameters).
pub(crate) fn spki_ed25519(point: &[u8]) -> Vec<u8> {
    sequence(&[&sequence(&[OID_ED25519]), &bit_string(point)])
}

/// SubjectPublicKeyInfo for an RSA key (RFC 8017 RSAPublicKey, NULL params).
pub(crate) fn spki_rsa(modulus: &[u8], public_exponent: &[u8]) -> Vec<u8> {
    let rsa_public_key = sequence(&[
        &unsigned_integer(modulus),
        &unsigned_integer(public_exponent),
    ]);
    sequence(&[
        &sequence(&[OID_RSA_ENCRYPTION, &[TAG_NULL, 0x00]]),
        &bit_string(&rsa_public_key),
    ])
}

/// Converts a PKCS#11 ECDSA signature (r || s, each the field size) into the
/// DER ECDSA-Sig-Value that X.509, OpenSSL and most verifiers expect.
pub fn ecdsa_signature_to_der(raw: &[u8]) -> Result<Vec<u8>, HsmError> {
    if raw.is_empty() || !raw.len().is_multiple_of(2) {
        return Err(HsmError::Malformed {
            what: "ECDSA signature".into(),
            detail: format!("{} bytes is not r || s of equal halves", raw.len()),
        });
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    Ok(sequence(&[&unsigned_integer(r), &unsigned_integer(s)]))
}

/// The inverse of [`ecdsa_signature_to_der`]: r || s, each left-padded to
/// `field_len` bytes, as PKCS#11's CKM_ECDSA verifies it. Only the short
/// length form occurs for the curves the tool uses (P-384 signatures are at
/// most 104 bytes), so anything else is refused as malformed.
pub(crate) fn ecdsa_signature_from_der(der: &[u8], field_len: usize) -> Result<Vec<u8>, HsmError> {
    let malformed = |detail: &str| HsmError::Malformed {
        what: "ECDSA signature".into(),
        detail: detail.into(),
    };
    let body = match der {
        [0x30, len, body @ ..] if usize::from(*len) == body.len() && *len < 0x80 => body,
        _ => return Err(malformed("not a DER SEQUENCE of the stated length")),
    };
    let mut raw = Vec::with_capacity(2 * field_len);
    let mut rest = body;
    for _ in 0..2 {
        let (value, after) = match rest {
            [0x02, len, tail @ ..] if *len < 0x80 && usize::from(*len) <= tail.len() => {
                tail.split_at(usize::from(*len))
            }
            _ => return Err(malformed("expected two DER INTEGERs")),
        };
        let magnitude = match value.iter().position(|&b| b != 0) {
            Some(first) => &value[first..],
            None => &[][..],
        };
        if magnitude.len() > field_len {
            return Err(malformed("an integer is longer than the curve's field"));
        }
        raw.extend(std::iter::repeat_n(0, field_len - magnitude.len()));
        raw.extend_from_slice(magnitude);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the two integers"));
    }
    Ok(raw)
}

/// PEM text (RFC 7468) with 64-character lines.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        // base64 output is ASCII, so any chunk is valid UTF-8.
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Bit length of an unsigned big-endian integer (an RSA modulus).
pub(crate) fn bit_length(magnitude: &[u8]) -> u64 {
    match magnitude.iter().position(|&b| b != 0) {
        None => 0,
        Some(i) => (magnitude.len() - i) as u64 * 8 - u64::from(magnitude[i].leading_zeros()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        assert_eq!(tlv(0x04, &[0; 3])[..2], [0x04, 0x03]);
        assert_eq!(tlv(0x04, &[0; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[0; 0x1234])[..4], [0x04, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[0x00, 0x00, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[0x00, 0x00]), [0x02, 0x01, 0x00]);
        assert_eq!(
            unsigned_integer(&[0x01, 0x00, 0x01]),
            [0x02, 0x03, 0x01, 0x00, 0x01]
        );
    }

    #[test]
    fn ecdsa_signature_round_trips_through_der() {
        let mut raw = vec![0u8; 96];
        raw[0] = 0x80; // r needs a sign byte in DER
        raw[48 + 5] = 7; // s has leading zeros
        let der = ecdsa_signature_to_der(&raw).expect("der");
        assert_eq!(ecdsa_signature_from_der(&der, 48).expect("raw"), raw);
        assert!(ecdsa_signature_from_der(&der, 32).is_err());
        assert!(ecdsa_signature_from_der(&der[..der.len() - 1], 48).is_err());
    }

    #[test]
    fn ecdsa_signature_becomes_a_sequence_of_two_integers() {
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80; // r needs a sign byte
        raw[63] = 0x05; // s is tiny
        let der = ecdsa_signature_to_der(&raw).expect("even length");
        assert_eq!(der[0], TAG_SEQUENCE);
        assert_eq!(der[1] as usize, der.len() - 2);
        assert_eq!(&der[2..5], &[TAG_INTEGER, 33, 0x00]);
        assert_eq!(&der[der.len() - 3..], &[TAG_INTEGER, 1, 0x05]);
        assert!(ecdsa_signature_to_der(&[1, 2, 3]).is_err());
    }

    #[test]
    fn ec_point_accepts_wrapped_and_bare_points_of_the_right_size() {
        let mut point = vec![0x04];
        point.extend_from_slice(&[0x41; 64]);
        let wrapped = tlv(TAG_OCTET_STRING, &point);
        assert_eq!(ec_point(&wrapped, 65).expect("wrapped"), point);
        assert_eq!(ec_point(&point, 65).expect("bare"), point);
        assert!(ec_point(&wrapped, 97).is_err(), "wrong curve size");
        assert!(
            ec_point(&wrapped[..wrapped.len() - 1], 65).is_err(),
            "truncated"
        );
        let ed = tlv(TAG_OCTET_STRING, &[7; 32]);
        assert_eq!(ec_point(&ed, 32).expect("ed25519"), vec![7; 32]);
    }

    #[test]
    fn non_minimal_lengths_are_refused() {
        assert_eq!(read_whole_tlv(&[0x04, 0x81, 0x01, 0xaa], 0x04), None);
        assert_eq!(read_whole_tlv(&[0x04, 0x01, 0xaa], 0x04), Some(&[0xaa][..]));
        assert_eq!(read_whole_tlv(&[0x04, 0x02, 0xaa], 0x04), None);
    }

    #[test]
    fn curve_names_come_from_the_oid() {
        assert_eq!(curve_name(OID_P384), Some("P-384"));
        assert_eq!(curve_name(OID_ED25519), Some("Ed25519"));
        assert_eq!(curve_name(&[0x06, 0x01, 0x00]), None);
    }

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[]), 0);
    }

    #[test]
    fn pem_wraps_at_64_characters() {
        let text = pem("PUBLIC KEY", &[0u8; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last(), Some(&"-----END PUBLIC KEY-----"));
    }
}
