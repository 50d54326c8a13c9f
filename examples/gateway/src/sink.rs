//! Where events go: JSON lines (stdout or a file), an MQTT broker, or Azure Event Hubs.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

use crate::event::Event;
use crate::sas;

/// Why a delivery failed, which decides what happens to the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying as it is (network, 5xx, throttling, a broker away).
    Transient,
    /// These events can never be delivered (an invalid MQTT topic, Event Hubs' `400`, one
    /// event over the size limit): kept in the dead-letter file, never retried.
    Refused,
    /// The sink refuses the gateway itself (Event Hubs' `401`/`403`/`404`: a wrong key or hub
    /// name): every event would fail alike until an operator fixes the configuration.
    Unauthorized,
}

/// A failed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    /// What kind of failure.
    pub kind: Failure,
    /// The status to tell the device (the upstream HTTP status where there is one).
    pub status: u16,
    /// What happened.
    pub message: String,
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.status)
    }
}

/// A secret that never shows up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A sink.
pub enum Sink {
    /// JSON lines to a writer (stdout, a file).
    Lines(Box<dyn Write + Send>),
    /// MQTT, QoS 1.
    Mqtt(MqttSink),
    /// Azure Event Hubs REST.
    EventHubs(EventHubsSink),
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sink::Lines(_) => "Sink::Lines",
            Sink::Mqtt(_) => "Sink::Mqtt",
            Sink::EventHubs(_) => "Sink::EventHubs",
        })
    }
}

impl Sink {
    /// Deliver a batch, in order. `Ok` means every event was accepted downstream.
    pub async fn send(&mut self, batch: &[Event]) -> Result<u16, SinkError> {
        match self {
            Sink::Lines(w) => {
                let mut text = Vec::with_capacity(batch.len() * 160);
                for e in batch {
                    text.extend_from_slice(e.to_json().as_bytes());
                    text.push(b'\n');
                }
                // the write may block (a pipe whose reader paused, a slow disk): on a thread of
                // its own, never on the runtime's
                let mut writer = std::mem::replace(w, Box::new(std::io::sink()));
                let done = tokio::task::spawn_blocking(move || {
                    let r = writer.write_all(&text).and_then(|()| writer.flush());
                    (writer, r)
                })
                .await;
                let r = match done {
                    Ok((writer, r)) => {
                        *w = writer;
                        r
                    }
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                };
                r.map_err(|e| SinkError {
                    kind: Failure::Transient,
                    status: 503,
                    message: e.to_string(),
                })?;
                Ok(201)
            }
            Sink::Mqtt(m) => m.send(batch).await,
            Sink::EventHubs(h) => h.send(batch).await,
        }
    }
}

/// A topic level MQTT accepts and that stays one level: not empty, no wildcard (`+`, `#`),
/// no separator (`/`), no NUL (MQTT 3.1.1 §4.7).
pub fn mqtt_level_ok(s: &str) -> bool {
    !s.is_empty() && !s.contains(['+', '#', '/', '\0'])
}

/// MQTT sink: QoS 1 publishes to `<prefix>/<GatewayId>/<DeviceId>/<SensorType>`, confirmed by
/// the broker's PUBACK. While the broker is away, the client reconnects with a persistent
/// session and sends again what was not acknowledged, in order.
pub struct MqttSink {
    client: AsyncClient,
    acks: mpsc::UnboundedReceiver<()>,
    prefix: String,
    connected: Arc<AtomicBool>,
}

impl MqttSink {
    /// Connect (in the background) to `host:port`. `Err` when `prefix` cannot start a topic
    /// (empty levels are allowed, wildcards are not).
    pub fn new(host: &str, port: u16, client_id: &str, prefix: &str) -> Result<MqttSink, String> {
        if prefix.contains(['+', '#', '\0']) || prefix.is_empty() {
            return Err(format!(
                "MQTT topic prefix {prefix:?}: must not be empty or hold +, # or NUL"
            ));
        }
        let mut opts = MqttOptions::new(client_id, host, port);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_clean_session(false);
        opts.set_inflight(100);
        let (client, mut eventloop) = AsyncClient::new(opts, 1_000);
        let (tx, acks) = mpsc::unbounded_channel();
        let connected = Arc::new(AtomicBool::new(false));
        let c = connected.clone();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(MqttEvent::Incoming(Packet::PubAck(_))) => {
                        if tx.send(()).is_err() {
                            return;
                        }
                    }
                    Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => c.store(true, Ordering::SeqCst),
                    Ok(_) => {}
                    Err(_) => {
                        c.store(false, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
            }
        });
        Ok(MqttSink {
            client,
            acks,
            prefix: prefix.to_string(),
            connected,
        })
    }

    /// Whether the broker connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    async fn send(&mut self, batch: &[Event]) -> Result<u16, SinkError> {
        // every topic checked before anything is published, so that a refused batch was not
        // partly sent
        if let Some(e) = batch
            .iter()
            .find(|e| !mqtt_level_ok(&e.sensor_type) || !mqtt_level_ok(&e.device_id))
        {
            return Err(SinkError {
                kind: Failure::Refused,
                status: 400,
                message: format!(
                    "\"{}/{}/{}/{}\" is not a valid MQTT topic",
                    self.prefix, e.gateway_id, e.device_id, e.sensor_type
                ),
            });
        }
        for e in batch {
            let topic = format!(
                "{}/{}/{}/{}",
                self.prefix, e.gateway_id, e.device_id, e.sensor_type
            );
            self.client
                .publish(topic, QoS::AtLeastOnce, false, e.to_json())
                .await
                .map_err(|e| SinkError {
                    kind: Failure::Transient,
                    status: 503,
                    message: e.to_string(),
                })?;
        }
        // every publish gets its PUBACK, after a reconnect if need be
        for _ in batch {
            if self.acks.recv().await.is_none() {
                return Err(SinkError {
                    kind: Failure::Transient,
                    status: 503,
                    message: "MQTT client stopped".into(),
                });
            }
        }
        Ok(201)
    }
}

/// Azure Event Hubs over HTTPS with a SAS token; one batch request per device (partition key =
/// DeviceId), each at most 1 MB.
pub struct EventHubsSink {
    client: reqwest::Client,
    base: String,
    hub: String,
    key_name: String,
    key: Secret,
    token: Option<(String, u64)>,
    max_bytes: usize,
}

/// Event Hubs' limit on one publication (single event or batch), Standard tier.
pub const EVENT_HUBS_MAX_BYTES: usize = 1_000_000;

impl EventHubsSink {
    /// `base` is `https://<namespace>.servicebus.windows.net` (or a test endpoint); only
    /// `https` is accepted, since the SAS token travels in a header. `ca_pem` replaces the
    /// system roots (for a private endpoint).
    pub fn new(
        base: &str,
        hub: &str,
        key_name: &str,
        key: Secret,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, String> {
        let url = reqwest::Url::parse(base).map_err(|e| format!("Event Hubs URL {base:?}: {e}"))?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "Event Hubs URL {base:?}: must be https://<namespace>.servicebus.windows.net"
            ));
        }
        if hub.is_empty() || hub.contains(['/', '?', '#']) {
            return Err(format!("Event hub name {hub:?} is not a hub name"));
        }
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if let Some(pem) = ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| e.to_string())?;
            b = b.tls_certs_only([cert]);
        }
        let client = b.build().map_err(|e| e.to_string())?;
        Ok(EventHubsSink {
            client,
            base: base.trim_end_matches('/').to_string(),
            hub: hub.to_string(),
            key_name: key_name.to_string(),
            key,
            token: None,
            max_bytes: EVENT_HUBS_MAX_BYTES,
        })
    }

    /// Lower the batch size limit (tests).
    pub fn set_max_bytes(&mut self, n: usize) {
        self.max_bytes = n;
    }

    fn token(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        match &self.token {
            // refresh at 80 % of a one-hour lifetime
            Some((t, exp)) if now + 720 < *exp => t.clone(),
            _ => {
                let exp = now + 3_600;
                let t = sas::token(
                    &format!("{}/{}", self.base, self.hub),
                    &self.key_name,
                    &self.key.0,
                    exp,
                );
                self.token = Some((t.clone(), exp));
                t
            }
        }
    }

    async fn send(&mut self, batch: &[Event]) -> Result<u16, SinkError> {
        // group by device, keeping each device's order
        let mut groups: Vec<(String, Vec<&Event>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for e in batch {
            match index.get(e.device_id.as_str()) {
                Some(&i) => groups[i].1.push(e),
                None => {
                    index.insert(&e.device_id, groups.len());
                    groups.push((e.device_id.clone(), vec![e]));
                }
            }
        }
        let mut status = 201;
        for (device, events) in groups {
            let mut chunk: Vec<serde_json::Value> = Vec::new();
            let mut size = 2;
            for e in events {
                let item = serde_json::json!({ "Body": e.to_json() });
                let n = item.to_string().len() + 1;
                if !chunk.is_empty() && size + n > self.max_bytes {
                    status = self.post(&device, &std::mem::take(&mut chunk)).await?;
                    size = 2;
                }
                size += n;
                chunk.push(item);
            }
            if !chunk.is_empty() {
                status = self.post(&device, &chunk).await?;
            }
        }
        Ok(status)
    }

    async fn post(&mut self, device: &str, items: &[serde_json::Value]) -> Result<u16, SinkError> {
        let url = format!(
            "{}/{}/messages?timeout=60&api-version=2014-01",
            self.base, self.hub
        );
        let body = serde_json::Value::Array(items.to_vec()).to_string();
        let props = serde_json::json!({ "PartitionKey": device }).to_string();
        let r = self
            .client
            .post(&url)
            .header("Authorization", self.token())
            .header("Content-Type", "application/vnd.microsoft.servicebus.json")
            .header("BrokerProperties", props)
            .body(body)
            .send()
            .await
            .map_err(|e| SinkError {
                kind: Failure::Transient,
                status: 503,
                message: format!("Event Hubs unreachable: {e}"),
            })?;
        let s = r.status().as_u16();
        match s {
            200..=299 => Ok(s),
            413 if items.len() > 1 => {
                let (a, b) = items.split_at(items.len() / 2);
                Box::pin(self.post(device, a)).await?;
                Box::pin(self.post(device, b)).await
            }
            401 => {
                self.token = None;
                Err(SinkError {
                    kind: Failure::Unauthorized,
                    status: s,
                    message: "Event Hubs refused the SAS token".into(),
                })
            }
            403 | 404 => Err(SinkError {
                kind: Failure::Unauthorized,
                status: s,
                message: format!("Event Hubs answered {s} (policy or hub name)"),
            }),
            400 | 413 => Err(SinkError {
                kind: Failure::Refused,
                status: s,
                message: format!("Event Hubs answered {s}"),
            }),
            _ => Err(SinkError {
                kind: Failure::Transient,
                status: s,
                message: format!("Event Hubs answered {s}"),
            }),
        }
    }
}
