//! The frame layer: a 4-byte big-endian length followed by a bincode 2 payload.
//!
//! Every message on the socket is one frame. The length counts only the payload and is checked
//! against a maximum *before* any buffer is reserved, so a peer that announces 4 GiB costs nothing.
//! The async side (the server) uses [`FrameCodec`], a thin wrapper over tokio-util's
//! `LengthDelimitedCodec` that turns its errors into [`FrameError`]s; the blocking side (the CLI
//! client) uses [`write_frame`] and [`read_frame`] on any `std::io` stream.

use std::io::{self, Read, Write};

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LengthDelimitedCodecError};

/// Default largest payload accepted in one frame: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// Hard ceiling for any configured maximum frame size: 16 MiB.
///
/// bincode's decoder needs a compile-time byte limit so that a length prefix *inside* a payload
/// (a string claiming 2^60 bytes) cannot make it allocate without bound; that limit is this value,
/// so configured maxima are clamped to it.
pub const MAX_FRAME_CEILING: usize = 16 << 20;

/// Bytes in the length prefix.
pub const LENGTH_PREFIX_BYTES: usize = 4;

/// Default largest reply, reassembled from its parts (see `wire::ResponsePart`): 256 MiB.
///
/// A reply larger than one frame travels as several frames of at most the frame maximum each;
/// this bounds the whole, on the server (which refuses to send more) and on the client (which
/// checks the announced total before reserving anything).
pub const DEFAULT_MAX_REPLY: usize = 256 << 20;

/// Hard ceiling for any configured maximum reply size: 1 GiB (the decode limit of
/// [`decode_reply_payload`]).
pub const MAX_REPLY_CEILING: usize = 1 << 30;

/// The bincode configuration every frame uses; the decode limit bounds inner allocations.
fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME_CEILING>()
}

/// The bincode configuration for a reassembled reply: the same encoding, a larger decode limit.
fn reply_bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_REPLY_CEILING>()
}

/// Why a frame could not be read, written, encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announced more than the configured maximum; nothing was allocated.
    #[error("a frame exceeds the {max}-byte maximum: send smaller messages or raise the limit")]
    Oversized {
        /// The maximum in force.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("the connection closed in the middle of a frame ({buffered} bytes buffered)")]
    Truncated {
        /// How many bytes of the unfinished frame had arrived.
        buffered: usize,
    },
    /// The payload is not a valid bincode encoding of the expected message.
    #[error(
        "frame payload is not a valid message ({reason}): is the peer a gastown of the same version?"
    )]
    Decode {
        /// bincode's description of the problem.
        reason: String,
    },
    /// A message could not be encoded (a bug: every wire type is encodable).
    #[error("could not encode a message ({reason})")]
    Encode {
        /// bincode's description of the problem.
        reason: String,
    },
    /// The underlying stream failed.
    #[error("socket i/o failed: {0}")]
    Io(#[from] io::Error),
}

/// Clamps a configured maximum frame size to `1..=MAX_FRAME_CEILING`.
pub fn clamp_max_frame(max_frame: usize) -> usize {
    max_frame.clamp(1, MAX_FRAME_CEILING)
}

/// Encodes a message as a frame payload (without the length prefix).
pub fn encode_payload<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    bincode::serde::encode_to_vec(message, bincode_config()).map_err(|error| FrameError::Encode {
        reason: error.to_string(),
    })
}

/// Decodes a frame payload; trailing bytes after the message are an error.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (message, used) =
        bincode::serde::decode_from_slice(payload, bincode_config()).map_err(|error| {
            FrameError::Decode {
                reason: error.to_string(),
            }
        })?;
    if used != payload.len() {
        return Err(FrameError::Decode {
            reason: format!("{} trailing bytes after the message", payload.len() - used),
        });
    }
    Ok(message)
}

/// Clamps a configured maximum reply size to `1..=MAX_REPLY_CEILING`.
pub fn clamp_max_reply(max_reply: usize) -> usize {
    max_reply.clamp(1, MAX_REPLY_CEILING)
}

/// Decodes a reassembled reply (the concatenated parts of one response, which may exceed a
/// frame); trailing bytes are an error. The caller has already bounded `payload`'s length.
pub fn decode_reply_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    let (message, used) = bincode::serde::decode_from_slice(payload, reply_bincode_config())
        .map_err(|error| FrameError::Decode {
            reason: error.to_string(),
        })?;
    if used != payload.len() {
        return Err(FrameError::Decode {
            reason: format!("{} trailing bytes after the reply", payload.len() - used),
        });
    }
    Ok(message)
}

/// Decodes a message from the start of a payload, ignoring what follows.
///
/// Used to read the protocol version, the first field of a `Hello`, before trusting the rest.
pub fn decode_leading<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    bincode::serde::decode_from_slice(payload, bincode_config())
        .map(|(message, _used)| message)
        .map_err(|error| FrameError::Decode {
            reason: error.to_string(),
        })
}

/// Encodes a message as a complete frame: length prefix plus payload.
pub fn encode_frame<T: Serialize>(message: &T, max_frame: usize) -> Result<Vec<u8>, FrameError> {
    let payload = encode_payload(message)?;
    check_length(payload.len(), max_frame)?;
    let length = u32::try_from(payload.len()).expect("payload length is clamped below 16 MiB");
    let mut frame = Vec::with_capacity(LENGTH_PREFIX_BYTES + payload.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// Rejects a payload length above the (clamped) maximum.
fn check_length(length: usize, max_frame: usize) -> Result<(), FrameError> {
    let max = clamp_max_frame(max_frame);
    if length > max {
        return Err(FrameError::Oversized { max });
    }
    Ok(())
}

/// Writes one message as a frame to a blocking stream.
pub fn write_frame<T: Serialize>(
    writer: &mut impl Write,
    message: &T,
    max_frame: usize,
) -> Result<(), FrameError> {
    let frame = encode_frame(message, max_frame)?;
    writer.write_all(&frame)?;
    writer.flush()?;
    Ok(())
}

/// Reads one frame's payload from a blocking stream.
///
/// Returns `Ok(None)` on a clean end of stream before the first byte of a frame. The announced
/// length is checked before the payload buffer is allocated.
pub fn read_payload(
    reader: &mut impl Read,
    max_frame: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; LENGTH_PREFIX_BYTES];
    let got = read_full(reader, &mut prefix)?;
    if got == 0 {
        return Ok(None);
    }
    if got < prefix.len() {
        return Err(FrameError::Truncated { buffered: got });
    }
    let length = u32::from_be_bytes(prefix) as usize;
    check_length(length, max_frame)?;
    let mut payload = vec![0u8; length];
    let got = read_full(reader, &mut payload)?;
    if got < length {
        return Err(FrameError::Truncated {
            buffered: LENGTH_PREFIX_BYTES + got,
        });
    }
    Ok(Some(payload))
}

/// Reads one frame from a blocking stream and decodes it; `Ok(None)` on a clean end of stream.
pub fn read_frame<T: DeserializeOwned>(
    reader: &mut impl Read,
    max_frame: usize,
) -> Result<Option<T>, FrameError> {
    match read_payload(reader, max_frame)? {
        Some(payload) => decode_payload(&payload).map(Some),
        None => Ok(None),
    }
}

/// Fills `buffer` unless the stream ends first; returns how many bytes were read.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The async frame codec: `LengthDelimitedCodec` (4-byte big-endian length, a maximum frame
/// length) with errors mapped to [`FrameError`].
#[derive(Debug)]
pub struct FrameCodec {
    /// tokio-util's length-delimited codec, configured once in [`FrameCodec::new`].
    inner: LengthDelimitedCodec,
}

impl FrameCodec {
    /// A codec accepting payloads up to `max_frame` bytes (clamped to [`MAX_FRAME_CEILING`]).
    pub fn new(max_frame: usize) -> FrameCodec {
        let inner = LengthDelimitedCodec::builder()
            .length_field_length(LENGTH_PREFIX_BYTES)
            .big_endian()
            .max_frame_length(clamp_max_frame(max_frame))
            .new_codec();
        FrameCodec { inner }
    }

    /// Maps the inner codec's error, recognising the "frame too big" case.
    fn map_error(&self, error: io::Error) -> FrameError {
        let oversized = error
            .get_ref()
            .is_some_and(|inner| inner.is::<LengthDelimitedCodecError>());
        if oversized {
            FrameError::Oversized {
                max: self.inner.max_frame_length(),
            }
        } else {
            FrameError::Io(error)
        }
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        self.inner
            .decode(src)
            .map_err(|error| self.map_error(error))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.inner
            .encode(payload, dst)
            .map_err(|error| self.map_error(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Sample {
        id: u64,
        text: String,
    }

    fn sample() -> Sample {
        Sample {
            id: 7,
            text: "hello".to_string(),
        }
    }

    #[test]
    fn blocking_round_trip() {
        let frame = encode_frame(&sample(), DEFAULT_MAX_FRAME).expect("encodable");
        let length = u32::from_be_bytes(frame[..4].try_into().expect("4 bytes"));
        assert_eq!(length as usize, frame.len() - 4);
        let decoded: Option<Sample> =
            read_frame(&mut frame.as_slice(), DEFAULT_MAX_FRAME).expect("valid frame");
        assert_eq!(decoded, Some(sample()));
    }

    #[test]
    fn clean_end_of_stream_is_none() {
        let decoded: Option<Sample> =
            read_frame(&mut [].as_slice(), DEFAULT_MAX_FRAME).expect("empty stream is clean");
        assert_eq!(decoded, None);
    }

    #[test]
    fn oversized_length_is_rejected_before_reading_the_payload() {
        let bytes = u32::MAX.to_be_bytes();
        let error = read_payload(&mut bytes.as_slice(), DEFAULT_MAX_FRAME).expect_err("too big");
        assert!(matches!(error, FrameError::Oversized { max } if max == DEFAULT_MAX_FRAME));
    }

    #[test]
    fn truncated_prefix_and_payload_are_reported() {
        let error = read_payload(&mut [0u8, 0].as_slice(), DEFAULT_MAX_FRAME).expect_err("short");
        assert!(matches!(error, FrameError::Truncated { buffered: 2 }));
        let mut frame = encode_frame(&sample(), DEFAULT_MAX_FRAME).expect("encodable");
        frame.truncate(frame.len() - 1);
        let error = read_payload(&mut frame.as_slice(), DEFAULT_MAX_FRAME).expect_err("short");
        assert!(matches!(error, FrameError::Truncated { .. }));
    }

    #[test]
    fn garbage_and_trailing_bytes_do_not_decode() {
        let garbage: Result<Sample, _> = decode_payload(&[0xff; 3]);
        assert!(matches!(garbage, Err(FrameError::Decode { .. })));
        let mut payload = encode_payload(&sample()).expect("encodable");
        payload.push(0);
        let trailing: Result<Sample, _> = decode_payload(&payload);
        assert!(matches!(trailing, Err(FrameError::Decode { .. })));
    }

    #[test]
    fn a_huge_inner_length_does_not_allocate_unbounded() {
        // id = 0, then a string whose varint length claims u64::MAX bytes.
        let payload = [0u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let decoded: Result<Sample, _> = decode_payload(&payload);
        assert!(matches!(decoded, Err(FrameError::Decode { .. })));
    }

    #[test]
    fn async_codec_rejects_oversized_and_truncated() {
        let mut codec = FrameCodec::new(16);
        let mut src = BytesMut::from(&[0u8, 0, 0, 17][..]);
        assert!(matches!(
            codec.decode(&mut src),
            Err(FrameError::Oversized { max: 16 })
        ));

        let mut codec = FrameCodec::new(16);
        let mut src = BytesMut::from(&[0u8, 0, 0, 5, 1, 2][..]);
        assert!(matches!(codec.decode(&mut src), Ok(None)));
        assert!(matches!(
            codec.decode_eof(&mut src),
            Err(FrameError::Truncated { .. })
        ));
    }

    #[test]
    fn configured_maximum_is_clamped() {
        assert_eq!(clamp_max_frame(0), 1);
        assert_eq!(clamp_max_frame(usize::MAX), MAX_FRAME_CEILING);
    }
}
