//! The bounds of the `limits` section's resource keys (per-source flow cap, NAT ports per
//! host, FTP buffer budgets and their hold timeout) and of every timeout.
//!
//! Owns the largest and smallest values those keys accept, chosen so that no arithmetic on
//! them (an expiry `now + timeout`, a budget sum) can overflow in the engine. It only checks
//! and converts values; it never reads files and never builds engine state.

use std::time::Duration;

use serde_saphyr::Spanned;

use super::compile::{whole_number, Bounds, Cx};
use super::error::{ConfigError, Problem};
use super::parse;
use super::schema::LimitsSpec;
use super::value::Scalar;
use crate::engine::settings::Limits;

/// The longest idle timeout: 30 days. `now + timeout` stays far from `Duration`'s limit.
pub(super) const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 86_400);

/// The largest flow table: 16 Mi flows (about 8 GiB at the measured bytes per flow).
pub(super) const MAX_FLOWS: usize = 16 * 1024 * 1024;

const EMBRYONIC_PER_SOURCE: Bounds = Bounds {
    key: "max_embryonic_per_source",
    min: 1,
    max: MAX_FLOWS,
    unit: " flows",
    expected: "a whole number of flows",
};

const NAT_PORTS_PER_HOST: Bounds = Bounds {
    key: "nat_ports_per_host",
    min: 1,
    max: 65_535,
    unit: " ports",
    expected: "a whole number of ports",
};

const FTP_BUFFER_TOTAL: Bounds = Bounds {
    key: "ftp_buffer_total",
    min: 64 * 1024,
    max: 4 * 1024 * 1024 * 1024,
    unit: " bytes",
    expected: "a whole number of bytes",
};

const FTP_BUFFER_PER_CONNECTION: Bounds = Bounds {
    key: "ftp_buffer_per_connection",
    min: 8 * 1024,
    max: 1024 * 1024,
    unit: " bytes",
    expected: "a whole number of bytes",
};

/// The longest a control connection may hold bytes without progress.
const MAX_HELD_TIMEOUT: Duration = Duration::from_secs(300);

/// Applies the resource keys of `limits` the file sets.
pub(super) fn apply(cx: Cx<'_>, spec: &LimitsSpec, out: &mut Limits) -> Result<(), ConfigError> {
    if let Some(value) = &spec.max_embryonic_per_source {
        out.max_embryonic_per_source = whole_number(cx, value, &EMBRYONIC_PER_SOURCE)?;
    }
    if let Some(value) = &spec.nat_ports_per_host {
        out.nat_ports_per_host = whole_number(cx, value, &NAT_PORTS_PER_HOST)?;
    }
    if let Some(value) = &spec.ftp_buffer_total {
        out.ftp_buffer_total = whole_number(cx, value, &FTP_BUFFER_TOTAL)?;
    }
    if let Some(value) = &spec.ftp_buffer_per_connection {
        out.ftp_buffer_per_connection = whole_number(cx, value, &FTP_BUFFER_PER_CONNECTION)?;
    }
    if let Some(value) = &spec.ftp_held_timeout {
        out.ftp_held_timeout = held_timeout(cx, value)?;
    }
    Ok(())
}

/// A duration from 1 s to [`MAX_HELD_TIMEOUT`].
fn held_timeout(cx: Cx<'_>, value: &Spanned<Scalar>) -> Result<Duration, ConfigError> {
    let at = value.referenced;
    let timeout = cx.at(at, parse::duration(&value.value))?;
    if timeout.is_zero() {
        return Err(cx.error(at, Problem::ZeroTimeout("ftp_held_timeout".to_owned())));
    }
    if timeout > MAX_HELD_TIMEOUT {
        let problem = Problem::TimeoutTooLong {
            key: "ftp_held_timeout".to_owned(),
            seconds: timeout.as_secs(),
            max: MAX_HELD_TIMEOUT.as_secs(),
        };
        return Err(cx.error(at, problem));
    }
    Ok(timeout)
}
