//! The golden-bytes test: the wire as this build speaks it, compared with the record of it in
//! `golden/v<PROTOCOL_VERSION>.txt` beside this file.
//!
//! The record holds the shape of every message type (its variants or fields, in order: what
//! bincode's encoding follows) and the encoded bytes of one sample of every request and reply
//! (`crate::protocol::samples`) inside the frames they travel in, plus the socket layer's own messages.
//! Any change to the wire changes the record, and the test fails until `PROTOCOL_VERSION`
//! moves: a CLI and a `gastown run` that speak different versions are refused at handshake,
//! while two builds with the same version and different wires would exchange garbage.
//!
//! To record a new version: bump `PROTOCOL_VERSION` in `src/socket/wire.rs`, delete the old
//! record, then run `GASTOWN_BLESS_PROTOCOL=1 cargo test -p gastown socket::golden`. The test
//! never overwrites an existing record.

use super::frame::{decode_payload, encode_payload};
use super::stats::StatsSnapshot;
use super::wire::{
    ErrorCode, Hello, Identity, PROTOCOL_VERSION, ReplyBody, Request, RequestBody, Response,
    ResponsePart, ServerFrame, Welcome, WireError,
};
use crate::protocol::samples::{replies, requests};
use crate::protocol::{ActorDetail, ActorEvent, ActorNode, TownReply, TownRequest};
use gastown_town::command::{agent, bead, convoy, escalation, mail, mol, mq};
use serde::de::{self, DeserializeOwned, Visitor};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The variants of an enum or the fields of a struct, read from its `Deserialize` impl.
fn shape<T: DeserializeOwned>() -> String {
    let mut tracer = Tracer(None);
    let _ = T::deserialize(&mut tracer);
    let (name, items) = tracer.0.expect("a struct or an enum");
    format!("shape {name}: {}", items.join(" "))
}

/// A deserializer that only notes the name and the variants (or fields) it is asked for.
struct Tracer(Option<(&'static str, &'static [&'static str])>);

#[derive(Debug)]
struct Traced;

impl std::fmt::Display for Traced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("traced")
    }
}

impl std::error::Error for Traced {}

impl de::Error for Traced {
    fn custom<M: std::fmt::Display>(_: M) -> Traced {
        Traced
    }
}

impl<'de> de::Deserializer<'de> for &mut Tracer {
    type Error = Traced;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Traced> {
        Err(Traced)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Traced> {
        self.0 = Some((name, variants));
        Err(Traced)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Traced> {
        self.0 = Some((name, fields));
        Err(Traced)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

/// Every message type on the wire whose variants or fields bincode encodes in order. Types
/// that cross as JSON (`as_json`: beads, events, merge requests, convoy progress, …) are not
/// here: their samples' bytes carry their JSON.
fn shapes() -> Vec<String> {
    vec![
        shape::<Hello>(),
        shape::<Welcome>(),
        shape::<Identity>(),
        shape::<Request>(),
        shape::<RequestBody>(),
        shape::<Response>(),
        shape::<ReplyBody>(),
        shape::<ServerFrame>(),
        shape::<ResponsePart>(),
        shape::<WireError>(),
        shape::<ErrorCode>(),
        shape::<StatsSnapshot>(),
        shape::<TownRequest>(),
        shape::<bead::BeadRequest>(),
        shape::<bead::CreateRequest>(),
        shape::<bead::ListRequest>(),
        shape::<bead::UpdateRequest>(),
        shape::<mail::MailRequest>(),
        shape::<mail::SendRequest>(),
        shape::<mail::GroupRequest>(),
        shape::<mail::QueueRequest>(),
        shape::<mail::ChannelRequest>(),
        shape::<mol::MolRequest>(),
        shape::<mol::PourRequest>(),
        shape::<mq::MqRequest>(),
        shape::<convoy::ConvoyRequest>(),
        shape::<escalation::EscalateRequest>(),
        shape::<gastown_town::escalation::Severity>(),
        shape::<gastown_town::work::WorkCommand>(),
        shape::<gastown_town::work::HookAction>(),
        shape::<gastown_town::work::DoneStatus>(),
        shape::<TownReply>(),
        shape::<bead::BeadOutcome>(),
        shape::<bead::Changed>(),
        shape::<bead::BlockedBead>(),
        shape::<mail::MailOutcome>(),
        shape::<mail::Group>(),
        shape::<mail::QueueSummary>(),
        shape::<mail::QueueItem>(),
        shape::<mail::ChannelSummary>(),
        shape::<mol::MolOutcome>(),
        shape::<mol::MoleculeStatus>(),
        shape::<mol::StepStatus>(),
        shape::<gastown_town::molecule::StepState>(),
        shape::<mol::CurrentStep>(),
        shape::<mol::StepDetail>(),
        shape::<mq::MqOutcome>(),
        shape::<mq::OnOrigin>(),
        shape::<convoy::ConvoyOutcome>(),
        shape::<escalation::EscalateOutcome>(),
        shape::<gastown_town::convoy::ConvoyLanded>(),
        shape::<agent::HookView>(),
        shape::<agent::Seance>(),
        shape::<agent::SessionRecord>(),
        shape::<gastown_town::sync::SyncOptions>(),
        shape::<gastown_town::sync::SyncReport>(),
        shape::<ActorNode>(),
        shape::<ActorDetail>(),
        shape::<ActorEvent>(),
    ]
}

/// A sample's name: its variants, outermost first (`Mail.Group.List`), read from its JSON.
fn name_of<T: serde::Serialize>(sample: &T) -> String {
    let mut value = serde_json::to_value(sample).expect("samples are JSON");
    let mut names = Vec::new();
    loop {
        match value {
            serde_json::Value::String(unit) if is_variant(&unit) => {
                names.push(unit);
                break;
            }
            serde_json::Value::Object(map) if map.len() == 1 => {
                let Some((key, inner)) = map.into_iter().next() else {
                    break;
                };
                if !is_variant(&key) {
                    break;
                }
                names.push(key);
                value = inner;
            }
            _ => break,
        }
    }
    names.join(".")
}

fn is_variant(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word.chars().all(|c| c.is_ascii_alphanumeric())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The record as this build writes it.
fn record() -> String {
    let mut out = format!(
        "# gastown wire protocol {PROTOCOL_VERSION}: written by `GASTOWN_BLESS_PROTOCOL=1 cargo \
         test -p gastown socket::golden`; never edit by hand\n"
    );
    for line in shapes() {
        out.push_str(&line);
        out.push('\n');
    }
    let town_requests = requests().into_iter().map(|request| {
        let name = format!("TownRequest.{}", name_of(&request));
        let frame = Request {
            id: 1,
            body: RequestBody::Town(Box::new(request)),
        };
        (name, encode(&frame))
    });
    let town_replies = replies().into_iter().map(|reply| {
        let name = format!("TownReply.{}", name_of(&reply));
        let frame = ServerFrame::Response(Response {
            id: 1,
            body: Ok(ReplyBody::Town(Box::new(reply))),
        });
        (name, encode(&frame))
    });
    for (name, bytes) in socket_samples()
        .into_iter()
        .chain(town_requests)
        .chain(town_replies)
    {
        let _ = writeln!(out, "sample {name}: {}", hex(&bytes));
    }
    out
}

/// The socket layer's own messages, encoded: the handshake, its requests and replies.
fn socket_samples() -> Vec<(String, Vec<u8>)> {
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        token: Some("0123456789abcdef".into()),
        client: "gastown cli".into(),
    };
    let welcome = ServerFrame::Welcome(Welcome {
        protocol: PROTOCOL_VERSION,
        identity: Identity::Agent {
            address: "alpha/polecats/nux".into(),
            role: "polecat".into(),
            rig: Some("alpha".into()),
        },
    });
    let refusal = ServerFrame::Error(WireError::new(
        ErrorCode::VersionMismatch,
        "restart `gastown run`",
    ));
    let part = ServerFrame::ResponsePart(ResponsePart {
        id: 1,
        total: 300,
        bytes: vec![1, 0, 3, 17],
    });
    let mut samples = vec![
        ("Hello".to_string(), encode(&hello)),
        ("ServerFrame.Welcome".to_string(), encode(&welcome)),
        ("ServerFrame.Error".to_string(), encode(&refusal)),
        ("ServerFrame.ResponsePart".to_string(), encode(&part)),
    ];
    for (name, body) in [
        ("Ping", RequestBody::Ping),
        ("Whoami", RequestBody::Whoami),
        ("Stats", RequestBody::Stats),
    ] {
        samples.push((format!("Request.{name}"), encode(&Request { id: 1, body })));
    }
    let stats = StatsSnapshot {
        accepted: 5,
        requests: 9,
        ..StatsSnapshot::default()
    };
    for (name, body) in [
        ("Pong", Ok(ReplyBody::Pong)),
        ("Identity", Ok(ReplyBody::Identity(Identity::Overseer))),
        ("Stats", Ok(ReplyBody::Stats(stats))),
        (
            "Err",
            Err(WireError::new(ErrorCode::Forbidden, "not yours")),
        ),
    ] {
        let frame = ServerFrame::Response(Response { id: 1, body });
        samples.push((format!("Response.{name}"), encode(&frame)));
    }
    samples
}

/// One message as it travels (the frame's payload; the length prefix is the frame layer's).
fn encode<T: serde::Serialize>(message: &T) -> Vec<u8> {
    encode_payload(message).expect("every wire type encodes")
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/socket/golden")
        .join(format!("v{PROTOCOL_VERSION}.txt"))
}

#[test]
fn the_wire_is_the_recorded_one_for_this_protocol_version() {
    let ours = record();
    let path = golden_path();
    let recorded = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) if std::env::var_os("GASTOWN_BLESS_PROTOCOL").is_some() => {
            std::fs::write(&path, &ours).expect("the golden record is writable");
            return;
        }
        Err(e) => panic!(
            "no record of protocol {PROTOCOL_VERSION} at {} ({e}): record it with \
             `GASTOWN_BLESS_PROTOCOL=1 cargo test -p gastown socket::golden`",
            path.display()
        ),
    };
    if recorded == ours {
        return;
    }
    let first = recorded
        .lines()
        .zip(ours.lines())
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("recorded: {}\nthis build: {}", short(a), short(b)))
        .unwrap_or_else(|| "one record is longer than the other".to_string());
    panic!(
        "the wire changed but PROTOCOL_VERSION is still {PROTOCOL_VERSION}: bump it in \
         src/socket/wire.rs (and say why in its doc), delete {}, then record the new version with \
         `GASTOWN_BLESS_PROTOCOL=1 cargo test -p gastown socket::golden`\nfirst difference:\n{first}",
        path.display()
    );
}

fn short(line: &str) -> String {
    match line.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

#[test]
fn every_variant_of_every_command_family_has_a_sample() {
    let names: BTreeSet<String> = requests()
        .iter()
        .map(|r| format!("TownRequest.{}", name_of(r)))
        .chain(
            replies()
                .iter()
                .map(|r| format!("TownReply.{}", name_of(r))),
        )
        .collect();
    assert_eq!(
        names.len(),
        requests().len() + replies().len(),
        "two samples of one variant"
    );
    let families: [(&str, String); 16] = [
        ("TownRequest", shape::<TownRequest>()),
        ("TownRequest.Bead", shape::<bead::BeadRequest>()),
        ("TownRequest.Mail", shape::<mail::MailRequest>()),
        ("TownRequest.Mail.Group", shape::<mail::GroupRequest>()),
        ("TownRequest.Mail.Queue", shape::<mail::QueueRequest>()),
        ("TownRequest.Mail.Channel", shape::<mail::ChannelRequest>()),
        ("TownRequest.Mol", shape::<mol::MolRequest>()),
        ("TownRequest.Mq", shape::<mq::MqRequest>()),
        ("TownRequest.Convoy", shape::<convoy::ConvoyRequest>()),
        (
            "TownRequest.Work",
            shape::<gastown_town::work::WorkCommand>(),
        ),
        ("TownReply", shape::<TownReply>()),
        ("TownReply.Bead", shape::<bead::BeadOutcome>()),
        ("TownReply.Mail", shape::<mail::MailOutcome>()),
        ("TownReply.Mol", shape::<mol::MolOutcome>()),
        ("TownReply.Mq", shape::<mq::MqOutcome>()),
        ("TownReply.Convoy", shape::<convoy::ConvoyOutcome>()),
    ];
    let mut missing = Vec::new();
    for (prefix, shape) in families {
        let variants = shape.split(": ").nth(1).unwrap_or_default();
        for variant in variants.split(' ') {
            let name = format!("{prefix}.{variant}");
            if !names
                .iter()
                .any(|n| *n == name || n.starts_with(&format!("{name}.")))
            {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no sample in src/protocol/samples/ for: {missing:?}"
    );
}

#[test]
fn every_sample_survives_the_wire() {
    for request in requests() {
        let frame = Request {
            id: 1,
            body: RequestBody::Town(Box::new(request)),
        };
        let bytes = encode_payload(&frame).expect("encodes");
        let back: Request = decode_payload(&bytes).expect("decodes");
        assert_eq!(back, frame);
    }
    for reply in replies() {
        let frame = ServerFrame::Response(Response {
            id: 1,
            body: Ok(ReplyBody::Town(Box::new(reply))),
        });
        let bytes = encode_payload(&frame).expect("encodes");
        let back: ServerFrame = decode_payload(&bytes).expect("decodes");
        assert_eq!(back, frame);
    }
}
