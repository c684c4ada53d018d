//! Task's gRPC inside one process (`pinit serve`): notification's calls reach task's gRPC server over in-memory
//! pipes, so no port or socket on the host serves it and no other local process can call it (docs/adr/0012).
//! The distributed mode serves the same service on `task.grpc_port`.

use std::io;
use std::time::Duration;

use futures::Stream;
use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint, Uri};

/// Bytes buffered in each direction of one pipe (an HTTP/2 connection carries every call of a client).
const PIPE_BUFFER: usize = 256 * 1024;

/// The client end: each connection a channel opens is a new pipe whose other end goes to the server.
#[derive(Clone)]
pub struct PipeConnector {
    to_server: mpsc::Sender<DuplexStream>,
}

/// The server end: the pipes clients opened, as the connections a tonic server accepts.
pub struct PipeIncoming {
    from_clients: mpsc::Receiver<DuplexStream>,
}

/// A connected pair: what [`PipeConnector::channel`] opens, [`PipeIncoming::into_stream`] accepts.
pub fn pipe() -> (PipeConnector, PipeIncoming) {
    let (to_server, from_clients) = mpsc::channel(16);
    (PipeConnector { to_server }, PipeIncoming { from_clients })
}

impl PipeConnector {
    /// A lazily connecting channel to the server end; every call has `timeout` as its deadline. A connection
    /// attempt after the server stopped fails with `BrokenPipe` (an `UNAVAILABLE` call, like a closed port).
    pub fn channel(&self, timeout: Duration) -> Channel {
        let to_server = self.to_server.clone();
        Endpoint::from_static("http://task.in-process")
            .timeout(timeout)
            .connect_timeout(timeout)
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let to_server = to_server.clone();
                async move {
                    let (client, server) = tokio::io::duplex(PIPE_BUFFER);
                    to_server.send(server).await.map_err(|_| {
                        io::Error::new(io::ErrorKind::BrokenPipe, "task's gRPC server has stopped")
                    })?;
                    Ok::<_, io::Error>(TokioIo::new(client))
                }
            }))
    }
}

impl PipeIncoming {
    /// The accepted connections, ending when every [`PipeConnector`] is gone.
    pub fn into_stream(
        self,
    ) -> impl Stream<Item = Result<DuplexStream, io::Error>> + Send + 'static {
        futures::stream::unfold(self.from_clients, |mut from_clients| async move {
            let pipe = from_clients.recv().await?;
            Some((Ok(pipe), from_clients))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Bytes written on the client end arrive at the server end of the same pipe; once the server end is gone a
    /// new connection fails instead of hanging.
    #[tokio::test]
    async fn a_connection_is_a_pipe_to_the_server_end() {
        let (connector, incoming) = pipe();
        let mut accepted = Box::pin(incoming.into_stream());
        let (client, server) = tokio::io::duplex(PIPE_BUFFER);
        connector.to_server.send(server).await.expect("open");
        let mut server = accepted.next().await.expect("one").expect("ok");
        let mut client = client;
        client.write_all(b"ping").await.expect("write");
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"ping");

        drop(accepted);
        let channel = connector.channel(Duration::from_secs(1));
        let mut client =
            pinit_contracts::schedule::schedule_grpc_service_client::ScheduleGrpcServiceClient::new(
                channel,
            );
        let err = client
            .get_schedule_basics(pinit_contracts::schedule::GetScheduleRequest::default())
            .await
            .expect_err("no server");
        assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    }
}
