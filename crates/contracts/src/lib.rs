//! The published language between Pinit's contexts.
//!
//! Only data shapes live here — the gRPC contract (`proto/`) and, from the messaging issue on, the event
//! payloads. Behaviour never does: a context reaches another only at run time, over the broker or gRPC.

/// `pinit.schedule` — the task service's gRPC API (reference-compatible).
pub mod schedule {
    tonic::include_proto!("pinit.schedule");
}
