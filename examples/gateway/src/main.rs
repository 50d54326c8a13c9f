//! `scale-gateway`: TCP line protocol in (port 5001), JSON out.
//!
//! ```text
//! scale-gateway [--config gateway.toml] [--listen 0.0.0.0:5001] [--sink stdout|file|mqtt|eventhubs] ...
//! ```
//! Secrets (the Event Hubs key) come from `EVENTHUB_KEY` or `--eventhub-key-file`, never from
//! flags or the config file, and are never logged.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use scale_gateway::admission::Network;
use scale_gateway::sink::{EventHubsSink, MqttSink, Secret, Sink};
use scale_gateway::{AggregateOut, Gateway, Options, RESERVED_FILES, ReplyMode, open_file_limit};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
enum SinkKind {
    Stdout,
    File,
    Mqtt,
    Eventhubs,
}

/// Settings from the config file (TOML); every one can be overridden by a flag.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    gateway_id: Option<String>,
    sink: Option<SinkKind>,
    output: Option<PathBuf>,
    reply: Option<ReplyMode>,
    queue: Option<usize>,
    max_connections: Option<usize>,
    max_per_address: Option<usize>,
    allow: Option<Vec<Network>>,
    max_line: Option<usize>,
    idle_timeout_s: Option<u64>,
    write_timeout_s: Option<u64>,
    sync_timeout_ms: Option<u64>,
    flush_after_ms: Option<u64>,
    dedupe_capacity: Option<usize>,
    batch_linger_ms: Option<u64>,
    spool: Option<PathBuf>,
    dead_letter: Option<PathBuf>,
    window_s: Option<u64>,
    aggregates: Option<PathBuf>,
    mqtt_host: Option<String>,
    mqtt_port: Option<u16>,
    mqtt_topic: Option<String>,
    eventhub_url: Option<String>,
    eventhub_name: Option<String>,
    eventhub_key_name: Option<String>,
    eventhub_ca: Option<PathBuf>,
    metrics_interval_s: Option<u64>,
    metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Parser)]
#[command(
    name = "scale-gateway",
    about = "Weight sensors' gateway: TCP lines in, JSON to stdout/file/MQTT/Event Hubs"
)]
struct Cli {
    /// TOML config file (flags override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address [default: 127.0.0.1:5001; devices on the network need 0.0.0.0:5001].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// GatewayId in the events [default: the host name].
    #[arg(long)]
    gateway_id: Option<String>,
    /// Where events go [default: stdout].
    #[arg(long, value_enum)]
    sink: Option<SinkKind>,
    /// File for `--sink file`.
    #[arg(long)]
    output: Option<PathBuf>,
    /// When devices hear their status [default: sync].
    #[arg(long, value_enum)]
    reply: Option<ReplyMode>,
    /// Queue capacity, events [default: 10000].
    #[arg(long)]
    queue: Option<usize>,
    /// Concurrent connections [default: 1000].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Concurrent connections from one address [default: 64].
    #[arg(long)]
    max_per_address: Option<usize>,
    /// Addresses or networks that may connect, e.g. 192.168.1.0/24 (repeatable) [default: any].
    #[arg(long)]
    allow: Vec<Network>,
    /// Longest line, bytes [default: 256].
    #[arg(long)]
    max_line: Option<usize>,
    /// Idle connection timeout, seconds [default: 300].
    #[arg(long)]
    idle_timeout_s: Option<u64>,
    /// A status not written within this many seconds closes the connection [default: 10].
    #[arg(long)]
    write_timeout_s: Option<u64>,
    /// Sync mode: the longest a device waits for the sink before it hears 503, ms [default: 2000].
    #[arg(long)]
    sync_timeout_ms: Option<u64>,
    /// For devices that end readings by pausing instead of a line ending: the pause, ms [default: off].
    #[arg(long)]
    flush_after_ms: Option<u64>,
    /// (device, sensor, boot) keys kept for duplicate detection [default: 100000].
    #[arg(long)]
    dedupe_capacity: Option<usize>,
    /// Wait this long for more readings before a sink call, ms [default: 0: batch only what is
    /// already queued].
    #[arg(long)]
    batch_linger_ms: Option<u64>,
    /// Durable spool directory (readings accepted survive a restart).
    #[arg(long)]
    spool: Option<PathBuf>,
    /// Where readings the sink refuses for good are kept [default: SPOOL/dead-letter.jsonl, else stderr].
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Aggregate window, seconds (0: none) [default: 0].
    #[arg(long)]
    window_s: Option<u64>,
    /// Aggregates output file [default: stderr].
    #[arg(long)]
    aggregates: Option<PathBuf>,
    /// MQTT broker host [default: 127.0.0.1].
    #[arg(long)]
    mqtt_host: Option<String>,
    /// MQTT broker port [default: 1883].
    #[arg(long)]
    mqtt_port: Option<u16>,
    /// MQTT topic prefix [default: scale].
    #[arg(long)]
    mqtt_topic: Option<String>,
    /// Event Hubs namespace URL, `https://<ns>.servicebus.windows.net`.
    #[arg(long)]
    eventhub_url: Option<String>,
    /// Event hub name.
    #[arg(long)]
    eventhub_name: Option<String>,
    /// Shared access policy name.
    #[arg(long)]
    eventhub_key_name: Option<String>,
    /// File holding the shared access key (else `EVENTHUB_KEY`).
    #[arg(long)]
    eventhub_key_file: Option<PathBuf>,
    /// PEM file of the CA to trust instead of the system roots.
    #[arg(long)]
    eventhub_ca: Option<PathBuf>,
    /// Print metrics every N seconds (0: only at exit) [default: 60].
    #[arg(long)]
    metrics_interval_s: Option<u64>,
    /// Serve the counters for Prometheus (`GET /metrics`) on this address, e.g. 127.0.0.1:9464.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "gateway".into())
}

fn build(cli: Cli) -> Result<(Options, Sink, AggregateOut, u64), String> {
    let file: FileConfig = match &cli.config {
        Some(p) => toml::from_str(
            &std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )
        .map_err(|e| format!("{}: {e}", p.display()))?,
        None => FileConfig::default(),
    };
    let d = Options::default();
    let explicit_max = cli.max_connections.or(file.max_connections);
    let opts = Options {
        listen: cli.listen.or(file.listen).unwrap_or(d.listen),
        gateway_id: cli.gateway_id.or(file.gateway_id).unwrap_or_else(hostname),
        max_line: cli.max_line.or(file.max_line).unwrap_or(d.max_line),
        idle_timeout: cli
            .idle_timeout_s
            .or(file.idle_timeout_s)
            .map(Duration::from_secs)
            .unwrap_or(d.idle_timeout),
        max_connections: cli
            .max_connections
            .or(file.max_connections)
            .unwrap_or(d.max_connections),
        max_per_address: cli
            .max_per_address
            .or(file.max_per_address)
            .unwrap_or(d.max_per_address),
        allow: if cli.allow.is_empty() {
            file.allow.unwrap_or_default()
        } else {
            cli.allow
        },
        write_timeout: cli
            .write_timeout_s
            .or(file.write_timeout_s)
            .map(Duration::from_secs)
            .unwrap_or(d.write_timeout),
        sync_timeout: cli
            .sync_timeout_ms
            .or(file.sync_timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.sync_timeout),
        flush_after: cli
            .flush_after_ms
            .or(file.flush_after_ms)
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis),
        dedupe_capacity: cli
            .dedupe_capacity
            .or(file.dedupe_capacity)
            .unwrap_or(d.dedupe_capacity),
        dead_letter: cli.dead_letter.or(file.dead_letter),
        batch_linger: cli
            .batch_linger_ms
            .or(file.batch_linger_ms)
            .map(Duration::from_millis)
            .unwrap_or(d.batch_linger),
        queue: cli.queue.or(file.queue).unwrap_or(d.queue),
        reply: cli.reply.or(file.reply).unwrap_or(d.reply),
        spool: cli.spool.or(file.spool),
        window: cli
            .window_s
            .or(file.window_s)
            .filter(|&s| s > 0)
            .map(Duration::from_secs),
        metrics_listen: cli.metrics_listen.or(file.metrics_listen),
        ..d
    };
    let mut opts = opts;
    if opts.max_connections == 0 || opts.queue == 0 || opts.max_line == 0 {
        return Err("max_connections, queue and max_line must be at least 1".into());
    }
    if let Some(limit) = open_file_limit() {
        let room = limit.saturating_sub(RESERVED_FILES) as usize;
        if opts.max_connections > room {
            let msg = format!(
                "max_connections {} needs about {} open files; the limit is {limit} (ulimit -n)",
                opts.max_connections,
                opts.max_connections as u64 + RESERVED_FILES
            );
            if explicit_max.is_some() {
                return Err(msg);
            }
            eprintln!("warning: {msg}: serving at most {room} connections");
            opts.max_connections = room.max(1);
        }
    }
    let sink = match cli.sink.or(file.sink).unwrap_or(SinkKind::Stdout) {
        SinkKind::Stdout => Sink::Lines(Box::new(std::io::stdout())),
        SinkKind::File => {
            let p = cli
                .output
                .or(file.output)
                .ok_or("--sink file needs --output")?;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(|e| format!("{}: {e}", p.display()))?;
            Sink::Lines(Box::new(f))
        }
        SinkKind::Mqtt => {
            let host = cli
                .mqtt_host
                .or(file.mqtt_host)
                .unwrap_or_else(|| "127.0.0.1".into());
            let port = cli.mqtt_port.or(file.mqtt_port).unwrap_or(1883);
            let topic = cli
                .mqtt_topic
                .or(file.mqtt_topic)
                .unwrap_or_else(|| "scale".into());
            Sink::Mqtt(MqttSink::new(
                &host,
                port,
                &format!("scale-gateway-{}", opts.gateway_id),
                &topic,
            )?)
        }
        SinkKind::Eventhubs => {
            let url = cli
                .eventhub_url
                .or(file.eventhub_url)
                .ok_or("--eventhub-url is required")?;
            let name = cli
                .eventhub_name
                .or(file.eventhub_name)
                .ok_or("--eventhub-name is required")?;
            let key_name = cli
                .eventhub_key_name
                .or(file.eventhub_key_name)
                .ok_or("--eventhub-key-name is required")?;
            let key = match cli.eventhub_key_file {
                Some(p) => std::fs::read_to_string(&p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .trim()
                    .to_string(),
                None => std::env::var("EVENTHUB_KEY")
                    .map_err(|_| "set EVENTHUB_KEY or --eventhub-key-file")?,
            };
            let ca = match cli.eventhub_ca.or(file.eventhub_ca) {
                Some(p) => Some(std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?),
                None => None,
            };
            Sink::EventHubs(EventHubsSink::new(
                &url,
                &name,
                &key_name,
                Secret(key),
                ca.as_deref(),
            )?)
        }
    };
    let aggregates: Option<Box<dyn std::io::Write + Send>> =
        match (opts.window, cli.aggregates.or(file.aggregates)) {
            (None, _) => None,
            (Some(_), Some(p)) => Some(Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&p)
                    .map_err(|e| format!("{}: {e}", p.display()))?,
            )),
            (Some(_), None) => Some(Box::new(std::io::stderr())),
        };
    let interval = cli
        .metrics_interval_s
        .or(file.metrics_interval_s)
        .unwrap_or(60);
    Ok((opts, sink, aggregates, interval))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (opts, sink, aggregates, interval) = match build(Cli::parse()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let gw = match Gateway::start(opts.clone(), sink, aggregates).await {
        Ok(g) => g,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {} (or on --metrics-listen): {e}",
                opts.listen
            );
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "scale-gateway {} listening on {} (reply {:?})",
        opts.gateway_id,
        gw.addr(),
        opts.reply
    );
    if gw.addr().ip().is_loopback() {
        eprintln!(
            "(only this machine can connect: pass --listen 0.0.0.0:5001 for devices on the network)"
        );
    }
    if let Some(a) = gw.metrics_addr() {
        eprintln!("metrics for Prometheus: http://{a}/metrics");
    }
    let ctrl_c = async {
        let mut tick = tokio::time::interval(Duration::from_secs(interval.max(1)));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = tick.tick(), if interval > 0 => {
                    eprintln!("metrics {}", serde_json::to_string(&gw.metrics()).unwrap_or_default());
                }
            }
        }
    };
    ctrl_c.await;
    eprintln!("shutting down: delivering what is queued");
    let m = gw.shutdown(Duration::from_secs(10)).await;
    eprintln!("metrics {}", serde_json::to_string(&m).unwrap_or_default());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_example_configuration_parses() {
        let c: FileConfig = toml::from_str(include_str!("../gateway.example.toml")).unwrap();
        assert_eq!(c.allow.map(|a| a.len()), Some(1));
        assert_eq!(c.write_timeout_s, Some(10));
    }
}
