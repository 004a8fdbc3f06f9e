//! Runs files through the `ftp_session` checks on stable Rust:
//! `FTP_SESSION_TRACE=1 cargo run --example replay -- artifacts/ftp_session/NAME`.
//! Reads the named files only; a failed check panics with its message.

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        ftpgate_fuzz::ftp_session::check(&bytes);
        println!("{path}: every check passed");
    }
}
