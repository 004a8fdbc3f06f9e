//! A lenient case of issue 9 with real clients, through the kernel and through ftpgate: an
//! outside server behind its own NAT whose 227 replies name its private address
//! (pyftpdlib with `--masquerade-address 172.31.5.9`), common in the wild. curl, lftp and
//! python's ftplib ignore or fix that address and connect to the server's own; the gateway
//! must let them, and opens nothing inbound for it (the client connects outward).
//!
//! The kernel's helper does not record an expectation for a 227 naming another address than
//! the server's, and passes the line unchanged. ftpgate rewrites the address to the server's
//! control address and logs a `fix_pasv_address` notice (`ftp.fix_pasv_address`, on by
//! default). Like tests/lab.rs, the tests need root and skip (printing why; failing under
//! `CI=true`) without it or without namespaces.

#[path = "lab/env.rs"]
mod env;
#[path = "lab/ftp.rs"]
mod ftp;
#[path = "lab/net.rs"]
mod net;
use ftpgate_testkit::skip;

use env::lab_env_or_skip;
use ftp::{check_ok, random_bytes, Client, Op, Server};
use net::{lab_or_skip, FtpgateOpts, Layout, Mode};

/// The address the server's 227 replies name instead of its own.
const PRIVATE: &str = "172.31.5.9";

/// The clients that use PASV, each of which copes with a private address in the 227 its own
/// way: curl skips it (`--ftp-skip-pasv-ip`, its default), lftp replaces a private address
/// by the server's (`ftp:fix-pasv-address`), ftplib ignores it.
const CLIENTS: [Client; 3] = [Client::CurlPasv, Client::LftpPassive, Client::FtplibPassive];

/// Each client downloads a file from the server announcing `PRIVATE`, through `mode`; the
/// server's transcript shows the 227s naming it. Returns ftpgate's stderr (empty for the
/// kernel).
fn download_from_a_server_announcing_its_private_address(test: &str, mode: Mode) -> Option<String> {
    let env = lab_env_or_skip(test)?;
    let work = tempfile::tempdir().expect("temp dir");
    let opts = FtpgateOpts::ftpgate(work.path().join("transfers.jsonl"));
    let lab = lab_or_skip(
        test,
        mode,
        Layout::ClientInside,
        (mode == Mode::Ftpgate).then_some(&opts),
    )?;
    let server = Server::start_with(
        env,
        &lab,
        Layout::ClientInside,
        &["--masquerade-address", PRIVATE],
    );
    let bytes = random_bytes(70_000);
    std::fs::write(server.root().join("file.bin"), &bytes).expect("server file");
    for client in CLIENTS {
        let local = work.path().join(format!("got-{client:?}"));
        let out = client.run(
            env,
            &lab,
            Layout::ClientInside,
            &Op::Get {
                remote: "file.bin",
                local: &local,
            },
        );
        check_ok(&format!("{client:?} through {mode:?}"), &out);
        let got = std::fs::read(&local).unwrap_or_default();
        assert!(got == bytes, "{client:?}: the download differs");
    }
    let transcript = server.transcript();
    let announced = format!(
        "-> 227 Entering passive mode ({},",
        PRIVATE.replace('.', ",")
    );
    assert_eq!(
        transcript.matches(&announced).count(),
        CLIENTS.len(),
        "{transcript}"
    );
    if mode == Mode::Kernel {
        return Some(String::new());
    }
    Some(lab.ftpgate_stderr_once(|stderr| stderr.contains("fix_pasv_address")))
}

#[test]
fn kernel_mode_lets_clients_cope_with_a_227_naming_the_servers_private_address() {
    let test = "kernel_mode_lets_clients_cope_with_a_227_naming_the_servers_private_address";
    download_from_a_server_announcing_its_private_address(test, Mode::Kernel);
}

/// Through ftpgate, the same downloads work, and ftpgate says it fixed the address.
#[test]
fn ftpgate_mode_fixes_a_227_naming_the_servers_private_address() {
    let test = "ftpgate_mode_fixes_a_227_naming_the_servers_private_address";
    let Some(stderr) = download_from_a_server_announcing_its_private_address(test, Mode::Ftpgate)
    else {
        return;
    };
    assert!(stderr.contains("fix_pasv_address"), "{stderr}");
}
