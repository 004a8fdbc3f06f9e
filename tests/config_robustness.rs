//! No input makes the rule-file loader panic, and every error it returns has a real position.
//!
//! Inputs: arbitrary text, random edits of the documented gateway file, and hostile shapes
//! (deep nesting, alias storms, huge numbers).

use ftpgate::config;
use proptest::prelude::*;

const GATEWAY: &str = include_str!("../rules/gateway.yaml");

/// Loads `text` and checks the error's shape; panics only on a broken invariant.
fn check(text: &str) {
    if let Err(err) = config::load_str("fuzz.yaml", text) {
        let (line, column) = err.position().unwrap_or((0, 0));
        assert!(line >= 1 && column >= 1, "{err}");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("fuzz.yaml:{line}:{column}: ")),
            "{shown}"
        );
        assert!(!shown.contains('\n'), "{shown:?}");
    }
}

/// `text` with the characters in `start..start+len` (clamped) replaced by `insert`.
fn splice(text: &str, start: usize, len: usize, insert: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let start = start % (chars.len() + 1);
    let end = (start + len).min(chars.len());
    chars[..start]
        .iter()
        .chain(insert.chars().collect::<Vec<_>>().iter())
        .chain(chars[end..].iter())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn yaml_looking_text_never_panics(text in "[a-z_:\\-\\[\\]{}, \\n0-9./\"'&*]{0,200}") {
        check(&text);
    }

    #[test]
    fn edited_gateway_never_panics(
        start in 0usize..8000,
        len in 0usize..40,
        insert in "[a-z0-9:\\-\\[\\]{}\\n ./\"#&*~]{0,12}",
    ) {
        check(&splice(GATEWAY, start, len, &insert));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("inside: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    check(&deep);
    assert!(config::load_str("fuzz.yaml", &deep).is_err());
}

#[test]
fn alias_storm_is_bounded() {
    // Each rule's src doubles the previous one through aliases: 2^40 leaves if expanded.
    let mut text = String::from("rules:\n  - {action: drop, src: &a0 [10.0.0.0/8, 10.0.0.0/8]}\n");
    for i in 1..40 {
        text.push_str(&format!(
            "  - {{action: drop, src: &a{i} [*a{}, *a{}]}}\n",
            i - 1,
            i - 1
        ));
    }
    check(&text);
    assert!(config::load_str("fuzz.yaml", &text).is_err());
}

#[test]
fn huge_numbers_are_errors() {
    for text in [
        "nat_ports: 99999999999999999999999999999999999999999\n",
        "limits:\n  max_flows: 340282366920938463463374607431768211455\n",
        "timeouts:\n  icmp: 18446744073709551616\n",
        "timeouts:\n  icmp: 99999999999999999999d\n",
        "ftp:\n  control_ports: [21, 340282366920938463463374607431768211455]\n",
        "ftp:\n  pinhole_timeout: 18446744073709551615\n",
        "ftp:\n  max_pinholes: -170141183460469231731687303715884105728\n",
        "ftp:\n  max_line: 18446744073709551616\n",
        "ftp:\n  mtu: 99999999999999999999999999999999999999999\n",
    ] {
        check(text);
        assert!(config::load_str("fuzz.yaml", text).is_err(), "{text}");
    }
}
