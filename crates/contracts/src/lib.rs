//! The published language between Pinit's contexts.
//!
//! Only data shapes live here — the gRPC contract (`proto/`) and the event payloads with their
//! exchanges and routing keys ([`events`]). Behaviour never does: a context reaches another only at run time, over the broker or gRPC.

pub mod asyncapi;
pub mod events;

/// `pinit.schedule` — the task service's gRPC API (reference-compatible).
pub mod schedule {
    tonic::include_proto!("pinit.schedule");
}
