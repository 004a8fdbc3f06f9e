//! The catalogue of defects an FTP line can have: [`ParseError`], shared by the command and
//! reply parsers, with the stable names security logs and counters use.

use super::{MAX_ADDRESS_LINE, MAX_VERB};

/// Why a line was refused. One variant per defect, so counters and logs can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line does not end in a line feed (the framer hands over complete lines only).
    #[error("line does not end in a line feed")]
    Unterminated,
    /// The line ends in a bare LF where CRLF is required (PORT, EPRT, 227, 229).
    #[error("line ends in a bare LF, CRLF required")]
    BareLineFeed,
    /// The line holds a NUL byte.
    #[error("line holds a NUL byte")]
    NulByte,
    /// The line is longer than [`MAX_ADDRESS_LINE`] bytes.
    #[error("line longer than {MAX_ADDRESS_LINE} bytes")]
    LineTooLong,
    /// The line is empty or starts with a space: there is no verb.
    #[error("no verb")]
    MissingVerb,
    /// The verb is longer than [`MAX_VERB`] bytes.
    #[error("verb longer than {MAX_VERB} bytes")]
    VerbTooLong,
    /// The verb holds a byte that is not an ASCII letter or digit.
    #[error("verb holds a byte that is not a letter or digit")]
    BadVerb,
    /// A required argument is absent or empty.
    #[error("missing argument")]
    MissingArgument,
    /// More than one space separates the verb from an address argument.
    #[error("more than one space before the argument")]
    ExtraSpace,
    /// A host-port does not have exactly six comma-separated fields.
    #[error("host-port does not have six fields")]
    FieldCount,
    /// A host-port field is empty, holds a non-digit, or has more than three digits.
    #[error("host-port field is not a 1-3 digit number")]
    BadNumber,
    /// A host-port field is above 255.
    #[error("host-port field above 255")]
    BadOctet,
    /// The announced port is 0.
    #[error("port 0")]
    PortZero,
    /// Bytes follow the address argument before the line ending.
    #[error("junk after the argument")]
    TrailingJunk,
    /// An RFC 2428 delimiter is not allowed (see [`is_delimiter`](super::is_delimiter)), differs, or is missing.
    #[error("bad or missing delimiter")]
    BadDelimiter,
    /// The EPRT address family is neither 1 (IPv4) nor 2 (IPv6).
    #[error("address family is not 1 or 2")]
    BadFamily,
    /// The EPRT address is valid but of the other family than the one named.
    #[error("address does not match the family")]
    FamilyMismatch,
    /// The EPRT address is not a valid address literal.
    #[error("bad address")]
    BadAddress,
    /// An RFC 2428 port is not a 1-5 digit number up to 65535.
    #[error("port is not a number from 1 to 65535")]
    BadPort,
    /// The EPSV argument is neither a protocol number 1-255 nor `ALL`.
    #[error("EPSV argument is not a protocol number or ALL")]
    BadEpsvArgument,
    /// The reply does not start with the expected code followed by a space, `-` or the end.
    #[error("not the expected reply code")]
    WrongReplyCode,
    /// An opening parenthesis around the address has no matching closing one, or the reverse.
    #[error("unbalanced parenthesis around the address")]
    UnbalancedParenthesis,
}

impl ParseError {
    /// Stable snake_case name for security logs and counters.
    pub fn check_name(&self) -> &'static str {
        match self {
            ParseError::Unterminated => "unterminated_line",
            ParseError::BareLineFeed => "bare_lf",
            ParseError::NulByte => "nul_byte",
            ParseError::LineTooLong => "line_too_long",
            ParseError::MissingVerb => "missing_verb",
            ParseError::VerbTooLong => "verb_too_long",
            ParseError::BadVerb => "bad_verb",
            ParseError::MissingArgument => "missing_argument",
            ParseError::ExtraSpace => "extra_space",
            ParseError::FieldCount => "wrong_field_count",
            ParseError::BadNumber => "bad_number",
            ParseError::BadOctet => "bad_octet",
            ParseError::PortZero => "port_zero",
            ParseError::TrailingJunk => "trailing_junk",
            ParseError::BadDelimiter => "bad_delimiter",
            ParseError::BadFamily => "bad_family",
            ParseError::FamilyMismatch => "family_mismatch",
            ParseError::BadAddress => "bad_address",
            ParseError::BadPort => "bad_port",
            ParseError::BadEpsvArgument => "bad_epsv_argument",
            ParseError::WrongReplyCode => "wrong_reply_code",
            ParseError::UnbalancedParenthesis => "unbalanced_parenthesis",
        }
    }
}
