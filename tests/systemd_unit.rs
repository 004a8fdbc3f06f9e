//! contrib/ftpgate.service is a unit systemd accepts: `systemd-analyze verify` on it, with
//! the binary paths pointed at the ftpgate under test (the unit names /usr/local/bin, where
//! an installed ftpgate goes). Skips where systemd-analyze is missing, except under CI=true
//! (scripts/lab-deps.sh installs it).

use ftpgate_testkit::skip;

use std::process::Command;

#[test]
fn systemd_analyze_verifies_the_unit() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/ftpgate.service"
    ))
    .expect("contrib/ftpgate.service");
    for needed in [
        "Type=notify",
        "ExecReload=",
        "CapabilityBoundingSet=CAP_NET_ADMIN\n",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.contains(needed), "{needed} missing from the unit");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ftpgate.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/ftpgate", env!("CARGO_BIN_EXE_ftpgate")),
    )
    .expect("unit copy");
    let out = match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(err) => {
            skip::skip(
                "systemd_analyze_verifies_the_unit",
                &format!("no systemd-analyze ({err}): scripts/lab-deps.sh installs it"),
            );
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("ftpgate.service"),
        "systemd-analyze complained about the unit:\n{stderr}"
    );
}
