//! The Session Manager data channel's binary message (what `session-manager-plugin` and the
//! SSM agent exchange over the stream URL's websocket), one struct with its wire form:
//!
//! ```text
//! offset  size  field
//!      0     4  header length (116: every field below up to the payload length)
//!      4    32  message type, UTF-8, space padded ("input_stream_data", "acknowledge", …)
//!     36     4  schema version
//!     40     8  created date, epoch milliseconds
//!     48     8  sequence number
//!     56     8  flags (bit 0 SYN, bit 1 FIN)
//!     64    16  message id: a UUID, its low 8 bytes first, then its high 8
//!     80    32  SHA-256 of the payload
//!    112     4  payload type
//!    116     4  payload length
//!    120     …  payload
//! ```
//! All integers big-endian.

use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const INPUT_STREAM_DATA: &str = "input_stream_data";
pub const OUTPUT_STREAM_DATA: &str = "output_stream_data";
pub const ACKNOWLEDGE: &str = "acknowledge";
pub const CHANNEL_CLOSED: &str = "channel_closed";
pub const START_PUBLICATION: &str = "start_publication";
pub const PAUSE_PUBLICATION: &str = "pause_publication";

/// Payload types.
pub const PAYLOAD_OUTPUT: u32 = 1;
pub const PAYLOAD_ERROR: u32 = 2;
pub const PAYLOAD_SIZE: u32 = 3;
pub const PAYLOAD_PARAMETER: u32 = 4;
pub const PAYLOAD_HANDSHAKE_REQUEST: u32 = 5;
pub const PAYLOAD_HANDSHAKE_RESPONSE: u32 = 6;
pub const PAYLOAD_HANDSHAKE_COMPLETE: u32 = 7;
pub const PAYLOAD_FLAG: u32 = 10;
pub const PAYLOAD_STDERR: u32 = 11;
pub const PAYLOAD_EXIT_CODE: u32 = 12;

/// A Flag payload's value: the client ends the session.
pub const FLAG_TERMINATE_SESSION: u32 = 2;

const MESSAGE_TYPE_BYTES: usize = 32;
/// Where the payload length sits; the header length field says this.
pub const HEADER_BYTES: usize = 116;
const PAYLOAD_OFFSET: usize = HEADER_BYTES + 4;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MessageError {
    #[error("message of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("header length {0} is not a data channel message's")]
    HeaderLength(u32),
    #[error("payload length {declared} does not match the {actual} bytes that follow")]
    PayloadLength { declared: u32, actual: usize },
    #[error("payload digest does not match the payload")]
    Digest,
    #[error("message type is not UTF-8")]
    MessageType,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientMessage {
    pub message_type: String,
    pub schema_version: u32,
    pub created_date_ms: u64,
    pub sequence_number: i64,
    pub flags: u64,
    pub message_id: Uuid,
    pub payload_type: u32,
    pub payload: Vec<u8>,
}

impl ClientMessage {
    /// A new message of `message_type` created now, with a fresh id.
    pub fn new(message_type: &str, sequence_number: i64, payload_type: u32, payload: Vec<u8>) -> ClientMessage {
        let created_date_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(1);
        ClientMessage {
            message_type: message_type.to_string(),
            schema_version: 1,
            created_date_ms,
            sequence_number,
            flags: 0,
            message_id: Uuid::new_v4(),
            payload_type,
            payload,
        }
    }

    /// The acknowledgement of `of`, as either side sends it for every stream data message.
    pub fn acknowledgement(of: &ClientMessage) -> ClientMessage {
        let content = serde_json::json!({
            "AcknowledgedMessageType": of.message_type,
            "AcknowledgedMessageId": of.message_id.to_string(),
            "AcknowledgedMessageSequenceNumber": of.sequence_number,
            "IsSequentialMessage": true,
        });
        let mut ack = ClientMessage::new(ACKNOWLEDGE, 0, 0, content.to_string().into_bytes());
        ack.flags = 3;
        ack
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAYLOAD_OFFSET + self.payload.len());
        out.extend_from_slice(&(HEADER_BYTES as u32).to_be_bytes());
        let mut message_type = [b' '; MESSAGE_TYPE_BYTES];
        let name = self.message_type.as_bytes();
        let n = name.len().min(MESSAGE_TYPE_BYTES);
        message_type[..n].copy_from_slice(&name[..n]);
        out.extend_from_slice(&message_type);
        out.extend_from_slice(&self.schema_version.to_be_bytes());
        out.extend_from_slice(&self.created_date_ms.to_be_bytes());
        out.extend_from_slice(&self.sequence_number.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        let id = self.message_id.as_bytes();
        out.extend_from_slice(&id[8..]);
        out.extend_from_slice(&id[..8]);
        out.extend_from_slice(&Sha256::digest(&self.payload));
        out.extend_from_slice(&self.payload_type.to_be_bytes());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<ClientMessage, MessageError> {
        if bytes.len() < PAYLOAD_OFFSET {
            return Err(MessageError::Short(bytes.len()));
        }
        let header_length = u32_at(bytes, 0);
        if header_length as usize != HEADER_BYTES {
            return Err(MessageError::HeaderLength(header_length));
        }
        let message_type = std::str::from_utf8(&bytes[4..4 + MESSAGE_TYPE_BYTES])
            .map_err(|_| MessageError::MessageType)?
            .trim_matches(|c: char| c == ' ' || c == '\0')
            .to_string();
        let mut id = [0u8; 16];
        id[8..].copy_from_slice(&bytes[64..72]);
        id[..8].copy_from_slice(&bytes[72..80]);
        let declared = u32_at(bytes, HEADER_BYTES);
        let payload = &bytes[PAYLOAD_OFFSET..];
        if declared as usize != payload.len() {
            return Err(MessageError::PayloadLength {
                declared,
                actual: payload.len(),
            });
        }
        // Acknowledgements and publication notices are checked too: every sender digests.
        if !payload.is_empty() && Sha256::digest(payload).as_slice() != &bytes[80..112] {
            return Err(MessageError::Digest);
        }
        Ok(ClientMessage {
            message_type,
            schema_version: u32_at(bytes, 36),
            created_date_ms: u64_at(bytes, 40),
            sequence_number: u64_at(bytes, 48) as i64,
            flags: u64_at(bytes, 56),
            message_id: Uuid::from_bytes(id),
            payload_type: u32_at(bytes, 112),
            payload: payload.to_vec(),
        })
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_sit_at_the_documented_offsets() {
        let mut m = ClientMessage::new(OUTPUT_STREAM_DATA, 7, PAYLOAD_OUTPUT, b"hi".to_vec());
        m.message_id = Uuid::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        m.flags = 2;
        let wire = m.encode();
        assert_eq!(wire.len(), 122);
        assert_eq!(&wire[0..4], &[0, 0, 0, 116]);
        assert_eq!(&wire[4..22], b"output_stream_data");
        assert!(wire[22..36].iter().all(|b| *b == b' '));
        assert_eq!(&wire[36..40], &[0, 0, 0, 1]);
        assert_eq!(&wire[48..56], &[0, 0, 0, 0, 0, 0, 0, 7]);
        assert_eq!(&wire[56..64], &[0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(&wire[64..80], &[8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(&wire[80..112], Sha256::digest(b"hi").as_slice());
        assert_eq!(&wire[112..116], &[0, 0, 0, 1]);
        assert_eq!(&wire[116..120], &[0, 0, 0, 2]);
        assert_eq!(&wire[120..], b"hi");
        assert_eq!(ClientMessage::decode(&wire), Ok(m));
    }

    #[test]
    fn a_damaged_message_is_refused() {
        let wire = ClientMessage::new(INPUT_STREAM_DATA, 0, PAYLOAD_OUTPUT, b"ls\r".to_vec()).encode();
        let mut flipped = wire.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(ClientMessage::decode(&flipped), Err(MessageError::Digest));
        assert_eq!(
            ClientMessage::decode(&wire[..wire.len() - 1]),
            Err(MessageError::PayloadLength { declared: 3, actual: 2 })
        );
        assert_eq!(ClientMessage::decode(&wire[..50]), Err(MessageError::Short(50)));
    }
}
