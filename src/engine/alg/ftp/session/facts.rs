//! What an operator may see of a control connection (`ftpgate flows`): login, user, working
//! directory, pinholes open. Read-only copies; never changes the session.

use super::Session;

/// A control connection's state as `ftpgate flows` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionFacts {
    /// The server accepted a login.
    pub logged_in: bool,
    /// The last USER name sent, if any.
    pub user: Option<String>,
    /// The working directory as far as the gateway followed it.
    pub cwd: Option<String>,
    /// Pinholes this session holds open.
    pub pinholes: usize,
    /// AUTH TLS was accepted: the gateway no longer reads the connection.
    pub blind: bool,
    /// Commands waiting for their replies.
    pub pending_commands: usize,
}

impl Session {
    /// A copy of the facts an operator may see.
    pub fn facts(&self) -> SessionFacts {
        SessionFacts {
            logged_in: self.logged_in,
            user: self.user.clone(),
            cwd: self.cwd.clone(),
            pinholes: self.pinholes.len(),
            blind: self.blind,
            pending_commands: self.pending.len(),
        }
    }
}
