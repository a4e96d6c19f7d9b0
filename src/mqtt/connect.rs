//! How vigil reaches a broker: the URL and its loopback rule, credentials
//! that never pass through argv, and TLS with rustls (DESIGN.md "Central
//! station (MQTT 5)", security).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rumqttc::v5::MqttOptions;
use rumqttc::{TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::excerpt::excerpt;

/// Environment variables that carry the broker login.
pub const USERNAME_ENV: &str = "VIGIL_MQTT_USERNAME";
pub const PASSWORD_ENV: &str = "VIGIL_MQTT_PASSWORD";

/// Default keep-alive (`--mqtt-keep-alive`): a dead or frozen bedside is
/// noticed by the broker within 1.5 × this, and its Last Will sent.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// A broker address: `mqtt://HOST:PORT` (loopback only) or
/// `mqtts://HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    /// The embedded broker's address, `mqtt://127.0.0.1:1883`.
    #[must_use]
    pub fn local(port: u16) -> Self {
        Self { tls: false, host: "127.0.0.1".to_owned(), port }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for BrokerUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        let shown = excerpt(url);
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(format!("`{shown}` is not a broker address: use mqtt://HOST:PORT or mqtts://HOST:PORT"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = match rest.strip_prefix('[') {
            // [v6]:port
            Some(v6) => {
                let (host, after) =
                    v6.split_once(']').ok_or_else(|| format!("`{shown}`: an IPv6 host needs its closing `]`"))?;
                (host, after.strip_prefix(':'))
            }
            None => match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            },
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
            return Err(format!(
                "`{shown}` has no host name vigil can use (user names and paths do not go in the URL)"
            ));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("`{shown}`: the port must be 1 to 65535"))?,
            None if tls => 8883,
            None => 1883,
        };
        if !tls && !is_loopback(host) {
            return Err(format!(
                "`{shown}`: plain mqtt:// is allowed only to a broker on this machine (127.0.0.1, ::1, localhost); \
                 vitals are health data, so use mqtts://{host}:{port}"
            ));
        }
        Ok(Self { tls, host: host.to_owned(), port })
    }
}

/// Whether `host` names this machine.
#[must_use]
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// How to authenticate to the broker: the login (from the environment or a
/// password file, never argv) and TLS files.
#[derive(Clone, Default)]
pub struct Security {
    pub username: Option<String>,
    pub password: Option<String>,
    /// PEM file of the roots to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and key, for brokers that ask for one.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password is never printed, in logs or error reports.
        f.debug_struct("Security")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .finish_non_exhaustive()
    }
}

impl Security {
    /// The login from `VIGIL_MQTT_USERNAME` and `VIGIL_MQTT_PASSWORD`, or the
    /// password from `password_file` (its first line; the file should be
    /// readable by its owner only).
    pub fn from_env(password_file: Option<&Path>) -> anyhow::Result<Self> {
        let username = std::env::var(USERNAME_ENV).ok().filter(|u| !u.is_empty());
        let password = match password_file {
            Some(path) => Some(read_password(path)?),
            None => std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty()),
        };
        if password.is_some() && username.is_none() {
            anyhow::bail!("a broker password was given but no user name: set {USERNAME_ENV}");
        }
        Ok(Self { username, password, ..Self::default() })
    }
}

fn read_password(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the password file {}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        anyhow::bail!("the password file {} is empty (its first line is the password)", path.display());
    }
    Ok(line.to_owned())
}

/// MQTT 5 options for `client_id` at `url`: keep-alive, login and TLS set;
/// the caller adds its Last Will.
pub fn options(
    url: &BrokerUrl,
    client_id: &str,
    keep_alive: Duration,
    security: &Security,
) -> anyhow::Result<MqttOptions> {
    let mut options = MqttOptions::new(client_id, url.host.clone(), url.port);
    options.set_keep_alive(keep_alive);
    if let (Some(user), Some(password)) = (&security.username, &security.password) {
        options.set_credentials(user.clone(), password.clone());
    } else if let Some(user) = &security.username {
        options.set_credentials(user.clone(), String::new());
    }
    if url.tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls_config(security)?))));
    } else if security.ca_file.is_some() || security.client_cert.is_some() {
        anyhow::bail!("TLS files were given for {url}, which is plain mqtt://; use mqtts://");
    }
    Ok(options)
}

/// The rustls client configuration: the `ring` provider, the roots of
/// `ca_file` or else the system's, and the client certificate if given.
pub fn tls_config(security: &Security) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    match &security.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read the CA file {}", path.display()))?
            {
                let cert = cert.with_context(|| format!("{}: not a PEM certificate", path.display()))?;
                roots.add(cert).with_context(|| format!("{}: a certificate vigil cannot use", path.display()))?;
            }
            if roots.is_empty() {
                anyhow::bail!("{}: no certificate in the CA file", path.display());
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                anyhow::bail!("this system has no trusted root certificates; give the broker's CA with --ca-file");
            }
        }
    }
    // rustls now recommends aws-lc-rs for its post-quantum key exchange;
    // `ring` builds with nothing but cc, and the classic key exchanges are
    // what a site's Mosquitto speaks today.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .context("TLS set-up")?
        .with_root_certificates(roots);
    let config = match (&security.client_cert, &security.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .with_context(|| format!("cannot read the client certificate {}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{}: not a PEM certificate", cert.display()))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("cannot read the client key {}", key.display()))?;
            builder.with_client_auth_cert(chain, key).context("the client certificate and key do not match")?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => anyhow::bail!("a client certificate needs both --client-cert and --client-key"),
    };
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports() {
        assert_eq!("mqtt://127.0.0.1:1884".parse(), Ok(BrokerUrl { tls: false, host: "127.0.0.1".into(), port: 1884 }));
        assert_eq!("mqtt://localhost".parse(), Ok(BrokerUrl { tls: false, host: "localhost".into(), port: 1883 }));
        assert_eq!("mqtt://[::1]:2000".parse(), Ok(BrokerUrl { tls: false, host: "::1".into(), port: 2000 }));
        assert_eq!(
            "mqtts://broker.example".parse(),
            Ok(BrokerUrl { tls: true, host: "broker.example".into(), port: 8883 })
        );
        assert_eq!(BrokerUrl::local(1883).to_string(), "mqtt://127.0.0.1:1883");
    }

    #[test]
    fn plain_mqtt_to_another_machine_is_refused() {
        for url in ["mqtt://10.0.0.5:1883", "mqtt://broker.example", "mqtt://[2001:db8::1]:1883"] {
            let e = url.parse::<BrokerUrl>().unwrap_err();
            assert!(e.contains("mqtts://") && e.contains("loopback") || e.contains("this machine"), "{e}");
        }
    }

    #[test]
    fn malformed_urls_name_the_problem() {
        for url in [
            "http://x",
            "mqtt://",
            "mqtt://u:p@127.0.0.1:1883",
            "mqtt://127.0.0.1:0",
            "mqtt://127.0.0.1:99999",
            "mqtt://[::1",
        ] {
            assert!(url.parse::<BrokerUrl>().is_err(), "{url}");
        }
    }

    #[test]
    fn a_password_is_never_in_debug_output() {
        let s = Security { username: Some("room-a".into()), password: Some("s3cret".into()), ..Security::default() };
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn tls_files_on_a_plain_url_are_an_error() {
        let s = Security { ca_file: Some("ca.pem".into()), ..Security::default() };
        assert!(options(&BrokerUrl::local(1883), "x", DEFAULT_KEEP_ALIVE, &s).is_err());
    }
}
