//! Reliable data packets already handed to SCTP, kept for one case: the connection dropped and
//! was resumed, and the server says which sequence number it got last. Everything after it
//! goes out again (LiveKit servers and receivers drop what they already have by sequence).

use std::collections::VecDeque;

/// What is kept. SCTP holds at most [`crate::transport`]'s 4 MiB unacknowledged, so anything
/// older than twice that has reached the server.
const KEPT_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct ResendBuffer {
    packets: VecDeque<(u32, Vec<u8>)>,
    bytes: usize,
}

impl ResendBuffer {
    /// Keeps packet `sequence`, forgetting the oldest ones beyond the bound.
    pub fn push(&mut self, sequence: u32, packet: Vec<u8>) {
        self.bytes += packet.len();
        self.packets.push_back((sequence, packet));
        while self.bytes > KEPT_BYTES {
            let Some((_, oldest)) = self.packets.pop_front() else {
                break;
            };
            self.bytes -= oldest.len();
        }
    }

    /// The packets sent after `last_received`, oldest first; the buffer forgets everything.
    pub fn after(&mut self, last_received: u32) -> Vec<(u32, Vec<u8>)> {
        self.bytes = 0;
        std::mem::take(&mut self.packets)
            .into_iter()
            .filter(|(sequence, _)| *sequence > last_received)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_packets_after_the_servers_last_are_resent_in_order() {
        let mut buffer = ResendBuffer::default();
        for sequence in 1..=5 {
            buffer.push(sequence, vec![sequence as u8]);
        }
        let resent = buffer.after(3);
        assert_eq!(resent, vec![(4, vec![4]), (5, vec![5])]);
        assert!(buffer.after(0).is_empty(), "resent packets are forgotten");
    }

    #[test]
    fn the_oldest_packets_go_once_the_bound_is_reached() {
        let mut buffer = ResendBuffer::default();
        let chunk = KEPT_BYTES / 4;
        for sequence in 1..=6 {
            buffer.push(sequence, vec![0; chunk]);
        }
        let kept: Vec<u32> = buffer.after(0).into_iter().map(|(s, _)| s).collect();
        assert_eq!(kept, vec![3, 4, 5, 6]);
    }
}
