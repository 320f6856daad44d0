//! One entry, one canonical byte string.
//!
//! Hashes and signatures cover exact bytes, so every entry must have exactly
//! one acceptable encoding: the RFC 8785 (JCS) form of its value, restricted to
//! strings, booleans, integers in [0, 2^53), arrays and objects. Floats and
//! large integers are where JSON implementations disagree; null adds a second
//! way to say "absent". The verifier re-canonicalizes each line and compares
//! bytes, which catches whitespace, key order, escapes, `1.0` and duplicate
//! keys (serde_json keeps the last; the canonical form then differs).

use serde_json::Value;

use super::error::{Rule, Violation};
use super::{INTEGER_LIMIT, MAX_LINE_BYTES};

/// Where in a value something is out of the allowed domain, and what it is.
#[derive(Debug)]
pub(crate) struct DomainProblem {
    pub location: String,
    pub problem: String,
}

/// Finds the first value outside the allowed domain, depth first.
pub(crate) fn domain_problem(value: &Value, location: &str) -> Option<DomainProblem> {
    let problem = |what: String| {
        Some(DomainProblem {
            location: location.to_owned(),
            problem: what,
        })
    };
    match value {
        Value::Null => problem("null".to_owned()),
        Value::Bool(_) | Value::String(_) => None,
        Value::Number(number) => match number.as_u64() {
            Some(integer) if integer < INTEGER_LIMIT => None,
            Some(integer) => problem(format!("the integer {integer}, not below 2^53")),
            None => problem(format!("the number {number}, not a non-negative integer")),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| domain_problem(item, &format!("{location}[{index}]"))),
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            domain_problem(member, &format!("{location}.{}", quote_key(key)))
        }),
    }
}

/// Keys are arbitrary strings; quote the unusual ones so a location is unambiguous.
fn quote_key(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// The RFC 8785 bytes of a value already checked with [`domain_problem`].
pub(crate) fn canonical_bytes(value: &Value) -> Result<Vec<u8>, serde_json::Error> {
    serde_json_canonicalizer::to_vec(value)
}

/// Checks a raw line's bytes before any JSON parsing: length, encoding, and
/// the characters a canonical line can never hold raw.
pub(crate) fn check_line_text(line: &[u8], line_number: u64) -> Result<&str, Violation> {
    let refuse = |rule, detail: String| Err(Violation::new(line_number, rule, detail));
    if line.len() > MAX_LINE_BYTES {
        return refuse(
            Rule::LineTooLong,
            format!(
                "line is {} bytes long, more than the {MAX_LINE_BYTES} allowed",
                line.len()
            ),
        );
    }
    if line.starts_with(b"\xEF\xBB\xBF") {
        return refuse(
            Rule::ByteOrderMark,
            "line starts with a UTF-8 byte order mark".to_owned(),
        );
    }
    let text = match std::str::from_utf8(line) {
        Ok(text) => text,
        Err(error) => {
            return refuse(
                Rule::NotUtf8,
                format!("invalid UTF-8 at byte {}", error.valid_up_to()),
            );
        }
    };
    if let Some(offset) = text.find('\r') {
        return refuse(
            Rule::CarriageReturn,
            format!("carriage return at byte {offset} (CRLF line ends are not allowed)"),
        );
    }
    // RFC 8785 escapes every character below U+0020 inside strings, and
    // canonical JSON has no whitespace between tokens: one raw is never canonical.
    if let Some(offset) = text.find(|c: char| c < '\u{20}') {
        let code = text[offset..].chars().next().map_or(0, u32::from);
        return refuse(
            Rule::ControlCharacter,
            format!("raw control character U+{code:04X} at byte {offset}"),
        );
    }
    Ok(text)
}

/// Parses a line and proves it is its own canonical form.
pub(crate) fn parse_canonical(text: &str, line_number: u64) -> Result<Value, Violation> {
    let value: Value = serde_json::from_str(text).map_err(|error| {
        Violation::new(line_number, Rule::Malformed, format!("not JSON: {error}"))
    })?;
    if let Some(found) = domain_problem(&value, "$") {
        return Err(Violation::new(
            line_number,
            Rule::NotCanonical,
            format!("{} holds {}", found.location, found.problem),
        ));
    }
    let canonical = canonical_bytes(&value).map_err(|error| {
        Violation::new(
            line_number,
            Rule::NotCanonical,
            format!("cannot canonicalize: {error}"),
        )
    })?;
    if canonical != text.as_bytes() {
        let offset = canonical
            .iter()
            .zip(text.as_bytes())
            .position(|(expected, found)| expected != found)
            .unwrap_or(canonical.len().min(text.len()));
        return Err(Violation::new(
            line_number,
            Rule::NotCanonical,
            format!(
                "not in RFC 8785 canonical form (first difference at byte {offset}; \
                 whitespace, key order, escapes, number forms or duplicate keys)"
            ),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn domain_problem_names_the_location() {
        let value = json!({"body": {"list": [1, 2.5]}});
        let found = domain_problem(&value, "$").expect("a float is out of domain");
        assert_eq!(found.location, "$.body.list[1]");
        assert!(found.problem.contains("2.5"), "{}", found.problem);
    }

    #[test]
    fn integers_stop_below_two_to_the_fifty_third() {
        assert!(domain_problem(&json!(INTEGER_LIMIT - 1), "$").is_none());
        assert!(domain_problem(&json!(INTEGER_LIMIT), "$").is_some());
        assert!(domain_problem(&json!(-1), "$").is_some());
        assert!(domain_problem(&json!(null), "$").is_some());
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 sorts before U+FB01 in UTF-16 (surrogate 0xD83D < 0xFB01),
        // after it in UTF-8: the canonicalizer must follow RFC 8785.
        let value = json!({"\u{FB01}": 1, "\u{1F600}": 2});
        let bytes = canonical_bytes(&value).expect("canonical");
        let text = String::from_utf8(bytes).expect("utf8");
        assert_eq!(text, "{\"\u{1F600}\":2,\"\u{FB01}\":1}");
        assert!(parse_canonical(&text, 1).is_ok());
    }
}
