//! A Mosquitto broker for interop tests, run from the shipped
//! docs/mosquitto.conf and docs/mosquitto.acl: the configuration is the
//! shipped file with only its paths, its TLS port and its log file
//! replaced, plus a plain listener on loopback, so a test that passes
//! proves the shipped files. Certificates come from rcgen (a CA, a server
//! certificate for 127.0.0.1 and localhost, a client certificate), the
//! password file from `mosquitto_passwd -b`.
//!
//! Callers check `tools::mosquitto` first.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

use std::fmt::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use vigil::mqtt::connect::{BrokerUrl, Security};

use crate::tools;

/// The shipped configuration and ACL.
pub const CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mosquitto.conf");
pub const ACL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mosquitto.acl");

/// The station's user name in the shipped ACL.
pub const STATION: &str = "station";

/// How long a start may take before the test fails with the broker's log.
const READY_WITHIN: Duration = Duration::from_secs(15);

/// A running (or stopped) Mosquitto on two free loopback ports. Killed on
/// drop.
pub struct Mosquitto {
    dir: tempfile::TempDir,
    pub plain_port: u16,
    pub tls_port: u16,
    config: PathBuf,
    child: Option<Child>,
    users: Vec<(String, String)>,
}

impl Mosquitto {
    /// Start a broker whose password file holds `users` (name, password).
    #[must_use]
    pub fn start(users: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (plain_port, tls_port) = free_ports();
        let mut broker = Self {
            config: dir.path().join("mosquitto.conf"),
            dir,
            plain_port,
            tls_port,
            child: None,
            users: users.iter().map(|(u, p)| ((*u).to_owned(), (*p).to_owned())).collect(),
        };
        broker.write_certificates();
        broker.write_passwords();
        std::fs::write(&broker.config, broker.config_text()).unwrap();
        broker.start_again();
        broker
    }

    /// The temporary directory of this broker's files.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PEM of the CA that signed the server (and client) certificate.
    #[must_use]
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("ca.crt")
    }

    /// PEM of a CA that signed nothing here: a client trusting only it must
    /// refuse the broker.
    #[must_use]
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir().join("other-ca.crt")
    }

    /// Client certificate and key (signed by [`Self::ca_file`]'s CA).
    #[must_use]
    pub fn client_cert(&self) -> (PathBuf, PathBuf) {
        (self.dir().join("client.crt"), self.dir().join("client.key"))
    }

    /// `mqtt://127.0.0.1:PLAIN` (the plain loopback listener).
    #[must_use]
    pub fn plain_url(&self) -> BrokerUrl {
        BrokerUrl::local(self.plain_port)
    }

    /// `mqtts://127.0.0.1:TLS` (the shipped TLS listener).
    #[must_use]
    pub fn tls_url(&self) -> BrokerUrl {
        format!("mqtts://127.0.0.1:{}", self.tls_port).parse().unwrap()
    }

    /// The login of `user` with this broker's CA as the only root.
    #[must_use]
    pub fn security(&self, user: &str) -> Security {
        Security {
            username: Some(user.to_owned()),
            password: Some(self.password(user).to_owned()),
            ca_file: Some(self.ca_file()),
            ..Security::default()
        }
    }

    /// The password `user` was given at start.
    #[must_use]
    pub fn password(&self, user: &str) -> &str {
        &self.users.iter().find(|(u, _)| u == user).unwrap_or_else(|| panic!("no user {user}")).1
    }

    /// The broker's log so far.
    #[must_use]
    pub fn log(&self) -> String {
        let mut log = std::fs::read_to_string(self.dir().join("mosquitto.log")).unwrap_or_default();
        log.push_str(&std::fs::read_to_string(self.dir().join("stderr.log")).unwrap_or_default());
        log
    }

    /// Whether the broker is running.
    #[must_use]
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Stop the broker as a service stop does (SIGTERM: it saves its
    /// persistent sessions and closes every connection), and wait for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -TERM mosquitto failed");
        child.wait().unwrap();
    }

    /// Start the stopped broker again, on the same ports with the same
    /// configuration; returns once both listeners accept connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "mosquitto is already running");
        let stderr = std::fs::OpenOptions::new().create(true).append(true).open(self.dir().join("stderr.log")).unwrap();
        let program = tools::mosquitto_program("mosquitto").expect("mosquitto is installed (tools::mosquitto)");
        let mut child = Command::new(program)
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("mosquitto exited at start ({status}):\n{}", self.log());
            }
            let up = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.plain_port) && up(self.tls_port) {
                break;
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                panic!("mosquitto did not accept connections within {READY_WITHIN:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// The shipped configuration with this broker's paths and ports.
    fn config_text(&self) -> String {
        let shipped = std::fs::read_to_string(CONF).unwrap();
        let dir = self.dir();
        let path = |name: &str| dir.join(name).display().to_string();
        let mut out = String::new();
        let mut replaced = Vec::new();
        for line in shipped.lines() {
            let key = line.split_whitespace().next().unwrap_or("");
            let value = match key {
                // Loopback only: the test's broker is no one else's.
                "listener" => Some(format!("{} 127.0.0.1", self.tls_port)),
                "certfile" => Some(path("server.crt")),
                "keyfile" => Some(path("server.key")),
                "cafile" => Some(path("ca.crt")),
                "password_file" => Some(path("passwd")),
                "acl_file" => Some(ACL.to_owned()),
                "persistence_location" => Some(format!("{}/", dir.display())),
                "log_dest" => Some(format!("file {}", path("mosquitto.log"))),
                _ => None,
            };
            match value {
                Some(value) if !line.starts_with('#') => {
                    replaced.push(key);
                    writeln!(out, "{key} {value}").unwrap();
                }
                _ => writeln!(out, "{line}").unwrap(),
            }
        }
        for key in [
            "listener",
            "certfile",
            "keyfile",
            "cafile",
            "password_file",
            "acl_file",
            "persistence_location",
            "log_dest",
        ] {
            assert!(
                replaced.contains(&key),
                "docs/mosquitto.conf has no `{key}` line any more; update tests/mosquitto"
            );
        }
        // Root (a CI container) would otherwise switch to the mosquitto user,
        // who cannot read this test's private directory; ignored otherwise.
        writeln!(out, "user root").unwrap();
        // A plain listener on loopback for tools and `mqtt://` clients; the
        // shipped password and ACL apply to it too (per_listener_settings
        // false).
        writeln!(out, "listener {} 127.0.0.1", self.plain_port).unwrap();
        out
    }

    fn write_passwords(&self) {
        let file = self.dir().join("passwd");
        let program = tools::mosquitto_program("mosquitto_passwd").expect("mosquitto_passwd is installed");
        for (i, (user, password)) in self.users.iter().enumerate() {
            let mut command = Command::new(&program);
            command.arg("-b");
            if i == 0 {
                command.arg("-c");
            }
            let out = command.arg(&file).arg(user).arg(password).output().unwrap();
            assert!(out.status.success(), "mosquitto_passwd: {}", String::from_utf8_lossy(&out.stderr));
        }
    }

    fn write_certificates(&self) {
        let ca = ca("vigil test CA");
        let issuer: &Issuer<'_, KeyPair> = &ca;
        let dir = self.dir();
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        std::fs::write(dir.join("other-ca.crt"), self::ca("someone else's CA").pem()).unwrap();

        let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        server.distinguished_name.push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        std::fs::write(dir.join("server.crt"), server.signed_by(&key, issuer).unwrap().pem()).unwrap();
        std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();

        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client.distinguished_name.push(DnType::CommonName, "r1");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        std::fs::write(dir.join("client.crt"), client.signed_by(&key, issuer).unwrap().pem()).unwrap();
        std::fs::write(dir.join("client.key"), key.serialize_pem()).unwrap();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// A self-signed CA.
fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Two different loopback ports nothing listens on now.
#[must_use]
pub fn free_ports() -> (u16, u16) {
    // Both held open while choosing, so they differ.
    let (a, b) = (TcpListener::bind("127.0.0.1:0").unwrap(), TcpListener::bind("127.0.0.1:0").unwrap());
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

/// One message as `mosquitto_sub` printed it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub content_type: String,
    /// Message expiry left when delivered, if the message has one.
    pub expiry: Option<u32>,
    pub payload: String,
}

impl Seen {
    /// The payload as JSON (every vigil payload is).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.topic, self.payload))
    }

    /// The topic's last level.
    #[must_use]
    pub fn kind(&self) -> &str {
        self.topic.rsplit('/').next().unwrap_or("")
    }
}

/// Tab-separated, one message a line: topic, QoS, retain, content type,
/// expiry, payload.
const SUB_FORMAT: &str = r"%t\t%q\t%r\t%C\t%E\t%p";

/// A `mosquitto_sub -v -F ...` logged in as `user`, printing to a file;
/// killed on drop. Its session persists (`-c`), so it gets the QoS 1
/// messages sent while it was cut off by a broker restart.
pub struct Sub {
    child: Child,
    out: PathBuf,
}

impl Mosquitto {
    /// Start `mosquitto_sub` as `user` on the plain listener for `filter`
    /// at QoS 1. The login is in its config file (`$XDG_CONFIG_HOME`), not
    /// in its arguments. Returns once it is subscribed: the station user
    /// publishes a probe on `probe_topic` (a topic the filter covers and
    /// the station may write: an `ack`) until the probe comes back.
    #[must_use]
    pub fn sub(&self, user: &str, filter: &str, probe_topic: &str) -> Sub {
        let config = self.dir().join(format!("xdg-{user}"));
        std::fs::create_dir_all(&config).unwrap();
        let login = format!("-u {user}\n-P {}\n", self.password(user));
        std::fs::write(config.join("mosquitto_sub"), &login).unwrap();
        let station = format!("-u {STATION}\n-P {}\n", self.password(STATION));
        std::fs::write(config.join("mosquitto_pub"), station).unwrap();
        let out = self.dir().join(format!("sub-{}.txt", free_ports().0));
        let program = tools::mosquitto_program("mosquitto_sub").unwrap();
        let child = Command::new(program)
            .env("XDG_CONFIG_HOME", &config)
            .args(["-h", "127.0.0.1", "-p", &self.plain_port.to_string(), "-V", "mqttv5", "-q", "1", "-c"])
            .args(["-i", &format!("watch-{user}-{}", free_ports().0), "-t", filter, "-v", "-F", SUB_FORMAT])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sub = Sub { child, out };
        let publisher = tools::mosquitto_program("mosquitto_pub").unwrap();
        let deadline = Instant::now() + READY_WITHIN;
        while !sub.seen().iter().any(|s| s.payload == "probe") {
            assert!(Instant::now() < deadline, "mosquitto_sub never subscribed:\n{}", self.log());
            let status = Command::new(&publisher)
                .env("XDG_CONFIG_HOME", &config)
                .args(["-h", "127.0.0.1", "-p", &self.plain_port.to_string(), "-V", "mqttv5", "-q", "1"])
                .args(["-t", probe_topic, "-m", "probe"])
                .status()
                .unwrap();
            assert!(status.success(), "mosquitto_pub as the station failed:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        sub
    }
}

impl Sub {
    /// Every message printed so far (probes included).
    #[must_use]
    pub fn seen(&self) -> Vec<Seen> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        // A line still being written has no newline yet.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|line| {
                let f: Vec<&str> = line.splitn(6, '\t').collect();
                assert_eq!(f.len(), 6, "mosquitto_sub printed `{line}`");
                Seen {
                    topic: f[0].to_owned(),
                    qos: f[1].parse().unwrap(),
                    retain: f[2] == "1",
                    content_type: f[3].to_owned(),
                    expiry: f[4].parse().ok(),
                    payload: f[5].to_owned(),
                }
            })
            .collect()
    }

    /// Wait (polling, up to `within`) until `done` holds for what was seen.
    pub fn wait_for(&self, within: Duration, what: &str, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            assert!(Instant::now() < deadline, "mosquitto_sub never saw {what}: {seen:#?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
