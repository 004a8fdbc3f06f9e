//! One tracked flow: its two tuples, its translation, and its mutable protocol state, with
//! an opaque slot (`A`) for what an application-layer gateway keeps about it.
//!
//! Conntrack never looks inside that slot and must never name a gateway's type: the engine
//! chooses `A` (`engine::Flow` is `Flow<alg::App>`), and only the pipeline calls its hooks.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};

use super::key::FlowKey;
use super::tcp::{TcpState, TcpTracker};
use crate::engine::settings::Timeouts;

/// Which of a flow's two directions a packet travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowDir {
    /// From the initiator to the responder.
    Original,
    /// From the responder back to the initiator.
    Reply,
}

impl FlowDir {
    /// 0 for the original direction, 1 for the reply (indexes per-side arrays).
    pub fn index(self) -> usize {
        match self {
            FlowDir::Original => 0,
            FlowDir::Reply => 1,
        }
    }
}

/// How a flow is translated, so its resources can be released when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowNat {
    /// Not translated.
    None,
    /// Inside source masqueraded to the outside address and this outside port (or echo id).
    Masquerade {
        /// Protocol of the binding.
        protocol: u8,
        /// Outside port or echo identifier held by the binding.
        outside_port: u16,
    },
    /// Outside destination forwarded to an inside server by a static port forward.
    Forward,
}

/// Protocol-specific tracking state.
#[derive(Debug, Clone)]
pub enum ProtoState {
    /// TCP with its state machine.
    Tcp(TcpTracker),
    /// UDP; `replied` once a packet travelled in the reply direction.
    Udp {
        /// Whether the responder has answered.
        replied: bool,
    },
    /// ICMP echo.
    Icmp,
}

/// The mutable part of a flow, behind the flow's lock; `A` is the application slot.
#[derive(Debug)]
pub struct FlowState<A> {
    /// When the flow stops being valid unless another packet refreshes it.
    pub expires_at: Duration,
    /// Protocol tracking.
    pub proto: ProtoState,
    /// Application-layer gateway state, opaque here.
    pub app: A,
}

impl<A> FlowState<A> {
    /// Payload bytes sent in both directions, for TCP (each byte once).
    pub fn tcp_payload(&self) -> u64 {
        match &self.proto {
            ProtoState::Tcp(tcp) => tcp.payload_sent(0) + tcp.payload_sent(1),
            _ => 0,
        }
    }

    /// Sequence space skipped over without a segment carrying it, both directions, for TCP.
    pub fn tcp_missing(&self) -> u64 {
        match &self.proto {
            ProtoState::Tcp(tcp) => tcp.payload_missing(0) + tcp.payload_missing(1),
            _ => 0,
        }
    }

    /// Idle timeout for the flow's current state.
    pub fn timeout(&self, timeouts: &Timeouts) -> Duration {
        match &self.proto {
            ProtoState::Tcp(tcp) => match tcp.state() {
                TcpState::SynSent => timeouts.tcp_syn_sent,
                TcpState::SynRecv => timeouts.tcp_syn_recv,
                TcpState::Established => timeouts.tcp_established,
                TcpState::FinWait => timeouts.tcp_fin_wait,
                TcpState::CloseWait => timeouts.tcp_close_wait,
                TcpState::LastAck => timeouts.tcp_last_ack,
                TcpState::TimeWait => timeouts.tcp_time_wait,
                TcpState::Close => timeouts.tcp_close,
            },
            ProtoState::Udp { replied: false } => timeouts.udp_unreplied,
            ProtoState::Udp { replied: true } => timeouts.udp_replied,
            ProtoState::Icmp => timeouts.icmp,
        }
    }

    /// Pushes the expiry out by the current state's timeout from `now`.
    pub fn refresh(&mut self, now: Duration, timeouts: &Timeouts) {
        self.expires_at = now.saturating_add(self.timeout(timeouts));
    }

    /// The gateway reset the connection at both ends (a RST sent to each): its TCP tracker
    /// closes and the flow's expiry follows from the closed state from `now`.
    pub fn gateway_reset(&mut self, now: Duration, timeouts: &Timeouts) {
        if let ProtoState::Tcp(tracker) = &mut self.proto {
            tracker.reset();
        }
        self.refresh(now, timeouts);
    }
}

/// A tracked connection; `A` is what an application-layer gateway keeps for it.
#[derive(Debug)]
pub struct Flow<A> {
    /// The tuple of the initiator's packets as they arrived.
    pub original: FlowKey,
    /// The tuple of the responder's packets as they arrive (after translation on the way out).
    pub reply: FlowKey,
    /// Translation applied.
    pub nat: FlowNat,
    /// Whether the flow is charged to its source as embryonic (see `eviction`).
    pub embryonic: AtomicBool,
    state: Mutex<FlowState<A>>,
}

impl<A> Flow<A> {
    /// A new flow.
    pub fn new(original: FlowKey, reply: FlowKey, nat: FlowNat, state: FlowState<A>) -> Self {
        Self {
            original,
            reply,
            nat,
            embryonic: AtomicBool::new(false),
            state: Mutex::new(state),
        }
    }

    /// Locks the mutable state.
    pub fn lock(&self) -> MutexGuard<'_, FlowState<A>> {
        self.state.lock()
    }

    /// Locks the mutable state unless another thread holds it (or this one: the lock is not
    /// reentrant).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, FlowState<A>>> {
        self.state.try_lock()
    }

    /// Whether the flow is past its expiry at `now`.
    pub fn is_expired(&self, now: Duration) -> bool {
        self.state.lock().expires_at <= now
    }

    /// The tuple a packet travelling in `dir` should carry after translation: the inverse of
    /// the other direction's tuple.
    pub fn translated_key(&self, dir: FlowDir) -> FlowKey {
        match dir {
            FlowDir::Original => self.reply.inverse(),
            FlowDir::Reply => self.original.inverse(),
        }
    }
}
