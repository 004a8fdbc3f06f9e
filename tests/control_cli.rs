//! The control commands' command line, without a running gateway: where they look for the
//! socket (`--socket`, else the rule file's `control.socket`, else the default), that the two
//! are exclusive, and the clear error when nobody listens. (tests/lab_ops.rs covers the
//! commands against a running gateway; the wire format has unit tests in
//! src/io/control/protocol.rs.)

use std::process::{Command, Output};

fn ftpgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftpgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run ftpgate")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_socket_comes_from_the_option_the_rule_file_or_the_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("none.sock");
    let out = ftpgate(&["status", "--socket", socket.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot connect to the control socket {}",
            socket.display()
        )),
        "{err}"
    );

    let rules = dir.path().join("r.yaml");
    let named = dir.path().join("from-rules.sock");
    std::fs::write(&rules, format!("control:\n  socket: {}\n", named.display())).unwrap();
    for command in ["status", "flows", "pinholes", "reload"] {
        let out = ftpgate(&[command, "--rules", rules.to_str().unwrap()]);
        assert!(!out.status.success(), "{command}");
        assert!(
            stderr(&out).contains(&named.display().to_string()),
            "{command}: {}",
            stderr(&out)
        );
    }

    let out = ftpgate(&["pinholes", "--rules", "rules/minimal.yaml"]);
    assert!(
        stderr(&out).contains("/run/ftpgate/ftpgate.sock"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_arguments_are_refused_clearly() {
    let out = ftpgate(&["status", "--rules", "a.yaml", "--socket", "/tmp/x.sock"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );

    let out = ftpgate(&["flows", "--socket", "/tmp/x.sock", "-s", "10.0.0.300"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("10.0.0.300"), "{}", stderr(&out));

    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("bad.yaml");
    std::fs::write(&rules, "control:\n  socket: relative.sock\n").unwrap();
    let out = ftpgate(&["status", "--rules", rules.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("{}:2:11:", rules.display())),
        "{}",
        stderr(&out)
    );
}
