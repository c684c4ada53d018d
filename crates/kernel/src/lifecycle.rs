//! The process lifecycle: run until SIGTERM/SIGINT, then drain in phases within a deadline.
//!
//! Work is registered in a [`Phase`]. On shutdown every service first reports "not ready", then the
//! phases stop in order — the public edge stops accepting and finishes its in-flight requests, then the
//! internal listeners and consumers, then background work such as the outbox relay flushes — so a rolling
//! update loses nothing. If the drain deadline passes, the process exits anyway and says what was cut.

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shutdown order: earlier phases stop first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The public entry point (the gateway's listener).
    Edge = 0,
    /// Services' listeners (HTTP, gRPC) and event consumers.
    Core = 1,
    /// Work that must run after everything that produces it has stopped (outbox relays, dispatchers).
    Background = 2,
}

const PHASES: [Phase; 3] = [Phase::Edge, Phase::Core, Phase::Background];

struct PhaseState {
    token: CancellationToken,
    tracker: TaskTracker,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything drained in time.
    Clean,
    /// A component failed; the rest was drained.
    Failed,
    /// The drain deadline passed (or a second signal arrived) with work still running.
    Cut,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Clean => 0,
            Outcome::Failed | Outcome::Cut => 1,
        }
    }
}

/// Owns the shutdown signal and every long-running task of the process.
pub struct Lifecycle {
    draining: CancellationToken,
    phases: Vec<PhaseState>,
    failed: Arc<AtomicBool>,
    drain_timeout: Duration,
    lame_duck: Duration,
}

impl Lifecycle {
    pub fn new(drain_timeout: Duration) -> Self {
        Self {
            draining: CancellationToken::new(),
            phases: PHASES
                .iter()
                .map(|_| PhaseState {
                    token: CancellationToken::new(),
                    tracker: TaskTracker::new(),
                })
                .collect(),
            failed: Arc::new(AtomicBool::new(false)),
            drain_timeout,
            lame_duck: Duration::ZERO,
        }
    }

    /// After the signal, keep serving for `period` while reporting not ready and closing kept-alive
    /// connections, before anything stops: load balancers without readiness-driven endpoints (a static
    /// replica list, e.g. the gateway's) move their traffic away without a request ever meeting a closed socket.
    /// In Kubernetes the preStop hook plays this part.
    pub fn with_lame_duck(mut self, period: Duration) -> Self {
        self.lame_duck = period;
        self
    }

    /// Cancelled as soon as shutdown begins (before any phase stops): readiness turns false.
    pub fn draining(&self) -> CancellationToken {
        self.draining.clone()
    }

    /// Cancelled when `phase` must stop.
    pub fn token(&self, phase: Phase) -> CancellationToken {
        self.phases[phase as usize].token.clone()
    }

    /// Runs `work` until it ends. An error is logged and shuts the whole process down.
    pub fn spawn<F, E>(&self, phase: Phase, name: &'static str, work: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let draining = self.draining.clone();
        let failed = self.failed.clone();
        self.phases[phase as usize].tracker.spawn(async move {
            match work.await {
                Ok(()) => tracing::debug!(task = name, "stopped"),
                Err(e) => {
                    tracing::error!(task = name, error = %e, "failed; shutting down");
                    failed.store(true, Ordering::SeqCst);
                    draining.cancel();
                }
            }
        });
    }

    /// Starts the shutdown without a signal (tests, fatal errors).
    pub fn begin_shutdown(&self) {
        self.draining.cancel();
    }

    /// Waits for SIGTERM/SIGINT (or [`Lifecycle::begin_shutdown`]), then drains phase by phase.
    pub async fn run(self) -> Outcome {
        tokio::select! {
            signal = wait_for_signal() => tracing::info!(%signal, "shutdown requested"),
            _ = self.draining.cancelled() => tracing::info!("shutdown started"),
        }
        self.draining.cancel();
        if !self.lame_duck.is_zero() {
            tracing::info!(period = ?self.lame_duck, "lame duck: still serving, reporting not ready");
            tokio::select! {
                _ = tokio::time::sleep(self.lame_duck) => {}
                signal = wait_for_signal() => {
                    tracing::warn!(%signal, "second signal; ending the lame-duck period");
                }
            }
        }
        self.drain().await
    }

    /// Stops the phases in order; returns once all work ended, the deadline passed, or a second signal came.
    pub async fn drain(self) -> Outcome {
        let deadline = self.drain_timeout;
        let stop_all = async {
            for (phase, state) in PHASES.iter().zip(&self.phases) {
                state.token.cancel();
                state.tracker.close();
                if !state.tracker.is_empty() {
                    tracing::info!(?phase, tasks = state.tracker.len(), "draining");
                }
                state.tracker.wait().await;
            }
        };
        tokio::select! {
            _ = stop_all => {
                if self.failed.load(Ordering::SeqCst) {
                    Outcome::Failed
                } else {
                    tracing::info!("shutdown complete");
                    Outcome::Clean
                }
            }
            _ = tokio::time::sleep(deadline) => {
                let left: usize = self.phases.iter().map(|p| p.tracker.len()).sum();
                tracing::warn!(tasks_left = left, timeout = ?deadline, "drain deadline passed; exiting with work cut short");
                Outcome::Cut
            }
            signal = wait_for_signal() => {
                tracing::warn!(%signal, "second signal; exiting without waiting");
                Outcome::Cut
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT; names the signal.
pub async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                tracing::warn!("cannot install signal handlers; only Ctrl-C stops this process");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn phases_stop_in_order() {
        let lc = Lifecycle::new(Duration::from_secs(5));
        let order = Arc::new(Mutex::new(Vec::new()));
        for phase in [Phase::Background, Phase::Core, Phase::Edge] {
            let token = lc.token(phase);
            let order = order.clone();
            lc.spawn(phase, "worker", async move {
                token.cancelled().await;
                // Finishing takes a moment; later phases must still wait for it.
                tokio::time::sleep(Duration::from_millis(20)).await;
                order.lock().unwrap().push(phase);
                Ok::<_, String>(())
            });
        }
        lc.begin_shutdown();
        assert_eq!(lc.drain().await, Outcome::Clean);
        assert_eq!(
            *order.lock().unwrap(),
            vec![Phase::Edge, Phase::Core, Phase::Background]
        );
    }

    #[tokio::test]
    async fn a_failing_task_shuts_everything_down() {
        let lc = Lifecycle::new(Duration::from_secs(5));
        let core = lc.token(Phase::Core);
        lc.spawn(Phase::Core, "server", async move {
            core.cancelled().await;
            Ok::<_, String>(())
        });
        lc.spawn(Phase::Background, "relay", async {
            Err::<(), _>("broker gone".to_string())
        });
        assert_eq!(lc.run().await, Outcome::Failed);
    }

    #[tokio::test]
    async fn the_deadline_cuts_stuck_work() {
        let lc = Lifecycle::new(Duration::from_millis(100));
        lc.spawn(Phase::Core, "stuck", async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, String>(())
        });
        lc.begin_shutdown();
        assert_eq!(lc.drain().await, Outcome::Cut);
    }
}
