//! The embedded broker of `vigil central` without `--broker` (rumqttd),
//! so a small site needs nothing else: MQTT 5, plain TCP, loopback only.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// The embedded broker's port when none is given.
pub const DEFAULT_PORT: u16 = 1883;

/// Largest payload the embedded broker accepts: a `vitals` message of
/// `[session] max_devices` devices fits many times over.
const MAX_PAYLOAD: usize = 256 * 1024;
/// How long `start` waits for the broker to accept connections.
const READY_WITHIN: Duration = Duration::from_secs(5);

/// A running embedded broker. It runs until the process ends (rumqttd has
/// no shutdown).
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Start a broker on `addr`, which must be a loopback address; returns
    /// once it accepts connections.
    pub fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        if !addr.ip().is_loopback() {
            anyhow::bail!("the embedded broker listens on loopback only, not on {addr}");
        }
        // rumqttd reports a failed bind only in its log, from its own
        // thread: try the address first so the error reaches the user.
        drop(TcpListener::bind(addr).with_context(|| {
            format!("cannot start the embedded MQTT broker on {addr} (is another broker running there? then use --broker mqtt://{addr})")
        })?);
        let mut broker = Broker::new(config(addr));
        std::thread::Builder::new()
            .name("mqtt-broker".to_owned())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded MQTT broker stopped");
                }
            })
            .context("cannot start the embedded broker's thread")?;
        let deadline = Instant::now() + READY_WITHIN;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                anyhow::bail!("the embedded MQTT broker did not start listening on {addr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { addr })
    }

    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn config(addr: SocketAddr) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: MAX_PAYLOAD,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "vigil-v5".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1024,
            max_outgoing_packet_count: 200,
            max_segment_size: 4 * 1024 * 1024,
            max_segment_count: 4,
            ..RouterConfig::default()
        },
        v5: Some(HashMap::from([("1".to_owned(), server)])),
        ..Config::default()
    }
}
