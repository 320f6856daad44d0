//! Times as whole seconds since the Unix epoch, and their X.509 encoding.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use der::asn1::{GeneralizedTime, UtcTime};
use x509_cert::time::Time;

use super::CaError;

pub(crate) const SECONDS_PER_DAY: u64 = 86_400;

/// The most days a profile may ask for (100 years).
pub(crate) const MAX_DAYS: u32 = 36_500;

/// `now` in whole seconds; the fraction is dropped.
pub(crate) fn whole_seconds(now: DateTime<Utc>) -> Result<u64, CaError> {
    u64::try_from(now.timestamp())
        .map_err(|_| CaError::profile("now", format!("{now} is before 1970")))
}

/// `start` plus `days` days; `field` names the days in errors.
pub(crate) fn plus_days(start: u64, days: u32, field: &str) -> Result<u64, CaError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(CaError::profile(
            field,
            format!("{days} days is outside 1..={MAX_DAYS}"),
        ));
    }
    Ok(start + u64::from(days) * SECONDS_PER_DAY)
}

/// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on.
pub(crate) fn x509_time(seconds: u64, field: &str) -> Result<Time, CaError> {
    let date = der::DateTime::from_unix_duration(Duration::from_secs(seconds))
        .map_err(|error| CaError::profile(field, format!("not representable: {error}")))?;
    Ok(if date.year() < 2050 {
        let utc = UtcTime::from_date_time(date)
            .map_err(|error| CaError::profile(field, format!("not representable: {error}")))?;
        Time::UtcTime(utc)
    } else {
        Time::GeneralTime(GeneralizedTime::from_date_time(date))
    })
}

/// Whether `time` is encoded the way [`x509_time`] would encode it.
pub(crate) fn encoded_as_rfc5280_requires(time: &Time) -> bool {
    let year = time.to_date_time().year();
    match time {
        Time::UtcTime(_) => year < 2050,
        Time::GeneralTime(_) => year >= 2050,
    }
}

pub(crate) fn seconds_of(time: &Time) -> u64 {
    time.to_unix_duration().as_secs()
}

pub(crate) fn rfc3339(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0))
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("@{seconds}"))
}

/// An RFC 3339 date in whole seconds since the epoch.
pub(crate) fn parse_rfc3339(text: &str, field: &str) -> Result<u64, CaError> {
    let parsed = DateTime::parse_from_rfc3339(text)
        .map_err(|error| CaError::profile(field, format!("{text:?} is not RFC 3339: {error}")))?;
    if parsed.timestamp_subsec_nanos() != 0 {
        return Err(CaError::profile(
            field,
            format!("{text:?} has a fraction of a second; X.509 times are whole seconds"),
        ));
    }
    whole_seconds(parsed.with_timezone(&Utc))
        .map_err(|_| CaError::profile(field, format!("{text:?} is before 1970")))
}
