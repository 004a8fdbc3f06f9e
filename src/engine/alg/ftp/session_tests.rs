//! Unit tests of the session against a fake host (`host_fake`): what a line becomes, which
//! data ports are reserved and released, which expectations open and close, what is
//! reported. No engine, no packets: the session's contract with the engine is the
//! `AlgHost` interface alone.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use super::expect::{DataMode, PinholeKey};
use super::host_fake::{
    masquerade_settings, masqueraded_control, FakeHost, CLIENT, OUTSIDE, SERVER,
};
use super::session::{LineContext, Session};
use super::stream::LineDecision;
use crate::engine::conntrack::FlowDir;
use crate::engine::settings::{EngineSettings, ViolationOutcome};
use crate::engine::Flow;

/// One control connection from an inside client, masqueraded, and its session.
struct Conversation {
    host: FakeHost,
    control: Arc<Flow>,
    session: Session,
    now: Duration,
}

impl Conversation {
    fn new(adjust: impl FnOnce(&mut EngineSettings)) -> Self {
        let mut settings = masquerade_settings();
        adjust(&mut settings);
        let control = masqueraded_control();
        Self {
            host: FakeHost::new(settings),
            control,
            session: Session::default(),
            now: Duration::from_secs(1),
        }
    }

    fn client(&mut self, line: &str) -> LineDecision {
        self.line(FlowDir::Original, line)
    }

    fn server(&mut self, line: &str) -> LineDecision {
        self.line(FlowDir::Reply, line)
    }

    /// One complete line from `from`, through the session.
    fn line(&mut self, from: FlowDir, line: &str) -> LineDecision {
        let ctx = LineContext {
            host: &self.host,
            control: &self.control,
            now: self.now,
        };
        match from {
            FlowDir::Original => self.session.client_line(&ctx, line.as_bytes(), true),
            FlowDir::Reply => self.session.server_line(&ctx, line.as_bytes(), true),
        }
    }

    /// Greeting, USER, PASS, 230: every line passes unchanged.
    fn logged_in(mut self) -> Self {
        for (client, server) in [
            (None, "220 ready\r\n"),
            (Some("USER ann\r\n"), "331 password\r\n"),
            (Some("PASS secret\r\n"), "230 welcome\r\n"),
        ] {
            if let Some(line) = client {
                assert_eq!(self.client(line), LineDecision::Keep);
            }
            assert_eq!(self.server(server), LineDecision::Keep);
        }
        self
    }
}

fn replaced(decision: LineDecision) -> String {
    match decision {
        LineDecision::Replace(bytes) => String::from_utf8(bytes).unwrap(),
        other => panic!("line not replaced: {other:?}"),
    }
}

#[test]
fn port_of_a_masqueraded_client_reserves_a_port_and_opens_one_translated_expectation() {
    let mut talk = Conversation::new(|_| {}).logged_in();
    let decision = talk.client("PORT 10,0,0,5,195,80\r\n");
    // 61000 = 238 * 256 + 72: the port the fake reserved.
    assert_eq!(replaced(decision), "PORT 203,0,113,7,238,72\r\n");
    let log = talk.host.log.lock().unwrap();
    assert_eq!(log.reserved.get(&61000), Some(&(CLIENT, 50000)));
    let expected = PinholeKey {
        src: IpAddr::V4(SERVER),
        dst: IpAddr::V4(OUTSIDE),
        dst_port: 61000,
    };
    let pinhole = &log.expectations[&expected];
    assert_eq!(log.expectations.len(), 1);
    assert_eq!(pinhole.translate_to, Some((CLIENT, 50000)));
    assert_eq!(pinhole.binding, Some(61000));
    assert_eq!(pinhole.mode, DataMode::Active);
    assert!(log.events.is_empty());
}

#[test]
fn eprt_of_a_masqueraded_client_is_rewritten_in_its_own_syntax() {
    let mut talk = Conversation::new(|_| {}).logged_in();
    let decision = talk.client("EPRT |1|10.0.0.5|50000|\r\n");
    assert_eq!(replaced(decision), "EPRT |1|203.0.113.7|61000|\r\n");
    assert_eq!(talk.host.expectations().len(), 1);
}

#[test]
fn refused_announcements_reserve_nothing_open_nothing_and_are_reported() {
    let cases = [
        ("PORT 192,0,2,9,195,80\r\n", "foreign_address"),
        ("PORT 10,0,0,5,0,22\r\n", "privileged_port"),
        ("EPRT |2|fd00::5|50000|\r\n", "family_mismatch"),
        ("EPRT |1|10.0.0.5|1023|\r\n", "privileged_port"),
    ];
    for (line, check) in cases {
        let mut talk = Conversation::new(|_| {}).logged_in();
        // The line is removed: the server never reads it.
        assert_eq!(replaced(talk.client(line)), "", "{line:?}");
        assert_eq!(talk.host.violations(), [check], "{line:?}");
        let owed = talk
            .session
            .take_due_replies()
            .expect("an error reply is owed");
        assert!(owed.starts_with(b"5"), "{line:?}: {owed:?}");
        let log = talk.host.log.lock().unwrap();
        assert!(
            log.reserved.is_empty() && log.expectations.is_empty(),
            "{line:?}"
        );
    }
}

#[test]
fn an_announcement_before_the_login_is_refused_and_its_port_given_back() {
    let mut talk = Conversation::new(|_| {});
    assert_eq!(talk.server("220 ready\r\n"), LineDecision::Keep);
    assert_eq!(replaced(talk.client("PORT 10,0,0,5,195,80\r\n")), "");
    assert_eq!(talk.host.violations(), ["before_login"]);
    let log = talk.host.log.lock().unwrap();
    assert!(log.reserved.is_empty() && log.expectations.is_empty());
    assert_eq!(
        log.released,
        [61000],
        "the port reserved while checking went back"
    );
}

#[test]
fn no_outside_port_refuses_the_announcement_with_the_shortage_named() {
    let mut talk = Conversation::new(|_| {}).logged_in();
    talk.host.exhaust_ports();
    assert_eq!(replaced(talk.client("PORT 10,0,0,5,195,80\r\n")), "");
    assert_eq!(talk.host.violations(), ["nat_ports_exhausted"]);
    assert!(talk.host.expectations().is_empty());
}

#[test]
fn a_passive_reply_of_an_untranslated_server_opens_an_expectation_for_the_client_only() {
    let mut talk = Conversation::new(|_| {}).logged_in();
    assert_eq!(talk.client("PASV\r\n"), LineDecision::Keep);
    let decision = talk.server("227 Entering Passive Mode (198,51,100,20,195,81).\r\n");
    assert_eq!(decision, LineDecision::Keep);
    let expectations = talk.host.expectations();
    assert_eq!(expectations.len(), 1);
    let (key, pinhole) = &expectations[0];
    let client_only = PinholeKey {
        src: IpAddr::V4(CLIENT),
        dst: IpAddr::V4(SERVER),
        dst_port: 50001,
    };
    assert_eq!(*key, client_only);
    assert_eq!(
        (pinhole.mode, pinhole.translate_to),
        (DataMode::Passive, None)
    );
    assert!(talk.host.log.lock().unwrap().reserved.is_empty());
}

#[test]
fn a_passive_reply_naming_another_public_host_is_refused_as_a_redirect() {
    for reply in [
        "227 Entering Passive Mode (198,51,100,99,195,81).\r\n",
        "227 Entering Passive Mode (198,51,100,20,0,25).\r\n",
    ] {
        let mut talk = Conversation::new(|_| {}).logged_in();
        assert_eq!(talk.client("PASV\r\n"), LineDecision::Keep);
        assert!(matches!(talk.server(reply), LineDecision::Replace(_)));
        assert_eq!(talk.host.expectations().len(), 0, "{reply:?}");
        let violations = talk.host.violations();
        assert!(
            violations == ["reply_redirect"] || violations == ["privileged_port"],
            "{reply:?}: {violations:?}"
        );
    }
}

#[test]
fn the_pinhole_cap_refuses_the_announcement_past_it_while_the_others_are_live() {
    let mut talk = Conversation::new(|settings| settings.ftp.max_pinholes = 2).logged_in();
    for port in [50000, 50001] {
        let line = format!("PORT 10,0,0,5,{},{}\r\n", port >> 8, port & 0xff);
        assert!(matches!(talk.client(&line), LineDecision::Replace(_)));
        assert_eq!(talk.server("200 ok\r\n"), LineDecision::Keep);
    }
    assert_eq!(replaced(talk.client("PORT 10,0,0,5,195,82\r\n")), "");
    assert_eq!(talk.host.violations(), ["pinhole_cap"]);
    assert_eq!(talk.host.expectations().len(), 2);
    // Once they expire, the next announcement is admitted again.
    talk.now += Duration::from_secs(3600);
    let _ = talk.session.take_due_replies();
    assert!(matches!(
        talk.client("PORT 10,0,0,5,195,83\r\n"),
        LineDecision::Replace(_)
    ));
}

#[test]
fn the_end_of_the_control_connection_closes_its_expectations_and_releases_their_ports() {
    let mut talk = Conversation::new(|_| {}).logged_in();
    assert!(matches!(
        talk.client("PORT 10,0,0,5,195,80\r\n"),
        LineDecision::Replace(_)
    ));
    talk.session.end(&talk.host, &talk.control);
    let log = talk.host.log.lock().unwrap();
    assert!(log.expectations.is_empty());
    assert_eq!(log.released, [61000]);
    assert!(log.reserved.is_empty());
}

#[test]
fn a_monitor_reports_a_bounce_and_follows_exactly_what_the_line_names() {
    let mut talk =
        Conversation::new(|settings| settings.ftp.on_violation = ViolationOutcome::Monitor)
            .logged_in();
    assert_eq!(talk.client("PORT 192,0,2,9,195,80\r\n"), LineDecision::Keep);
    assert_eq!(talk.host.violations(), ["foreign_address"]);
    let expectations = talk.host.expectations();
    assert_eq!(expectations.len(), 1);
    let named = PinholeKey {
        src: IpAddr::V4(SERVER),
        dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
        dst_port: 50000,
    };
    assert_eq!(expectations[0].0, named);
    assert!(talk.host.log.lock().unwrap().reserved.is_empty());
}
