//! Readings per second through the simulated modem at 115 200 baud with the HX711 at 80 SPS and
//! one sample per reading, and the article's loop (a new TCP connection and fixed waits per
//! reading) on the same simulators, in the same run.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use avia_hx711::sim::Hx711Sim;
use avia_hx711::{Config as HxConfig, Hx711, Rate};
use esp_at::sim::{SimConfig, SimModem, StdDelay};
use esp_at::{EspAt, Transport};
use scale_node::loopback::ArticleGateway;

use crate::sim::{self, COUNTS_PER_GRAM, NodeOptions, OFFSET, PASSWORD, SSID};

/// The longest measurement, seconds.
pub const MAX_SECONDS: f64 = 10.0;
/// The windows measured.
pub const WINDOWS: [u8; 2] = [1, 4];

/// The node's throughput with one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Lines in flight before waiting for statuses.
    pub window: u8,
    /// Readings acknowledged per second.
    pub per_second: f64,
    /// UART bytes, both ways, per acknowledged reading.
    pub uart_bytes: f64,
}

/// The benchmark's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Bench {
    /// The node, per window.
    pub node: Vec<Throughput>,
    /// Seconds per reading of the article's loop.
    pub article_seconds: f64,
}

impl fmt::Display for Bench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "readings per second delivered end to end (simulated ESP8266 at 115200 baud, HX711 at 80 SPS):"
        )?;
        for r in &self.node {
            writeln!(
                f,
                "  scale-node, window {}: {:7.2} readings/s, {:6.1} UART bytes per reading",
                r.window, r.per_second, r.uart_bytes
            )?;
        }
        writeln!(
            f,
            "  article loop          : {:7.3} readings/s ({:.2} s per reading)",
            1.0 / self.article_seconds,
            self.article_seconds
        )?;
        for r in &self.node {
            writeln!(
                f,
                "  ratio (window {})      : {:7.0}x",
                r.window,
                r.per_second * self.article_seconds
            )?;
        }
        write!(f, "  HX711 at 80 SPS       :   80.00 samples/s")
    }
}

/// Measure the node for `seconds` (at most [`MAX_SECONDS`]) per window, then the article's
/// loop for two readings.
pub fn run(seconds: f64) -> Result<Bench, String> {
    let gw = ArticleGateway::start(0).map_err(|e| e.to_string())?;
    let mut node = Vec::new();
    for window in WINDOWS {
        node.push(throughput(gw.addr(), seconds, window));
    }
    // the article's loop, measured: power up, 10 samples at 10 SPS, CIPSTART, 250 ms,
    // CIPSEND, 300 ms, data, 2000 ms, read back, 1000 ms, power down; a new connection each time
    let article_seconds = article_loop(gw.addr(), 2)?;
    Ok(Bench {
        node,
        article_seconds,
    })
}

/// The node streaming to `gateway` for `seconds` (at most [`MAX_SECONDS`]): weight lines only,
/// one sample per reading, a reading per conversion at 80 SPS.
fn throughput(gateway: SocketAddr, seconds: f64, window: u8) -> Throughput {
    let opts = NodeOptions {
        seconds,
        interval_ms: 12,
        samples: 1,
        classic: false,
        window,
        amount: false,
        setup: false,
    };
    let mut rig = sim::build(&opts, gateway, Rate::Sps80);
    let seconds = seconds.min(MAX_SECONDS);
    let node = &mut rig.node;
    // connect first
    let t0 = Instant::now();
    while node.state() != scale_node::State::Stream && t0.elapsed() < Duration::from_secs(10) {
        node.poll();
    }
    let (tx0, rx0) = rig.modem.uart_bytes();
    let acked0 = node.stats().acked;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        node.poll();
        while node.next_event().is_some() {}
    }
    let dt = start.elapsed().as_secs_f64();
    let acked = node.stats().acked - acked0;
    let (tx, rx) = rig.modem.uart_bytes();
    Throughput {
        window,
        per_second: f64::from(acked) / dt,
        uart_bytes: (tx - tx0 + rx - rx0) as f64 / f64::from(acked.max(1)),
    }
}

/// Seconds per reading of the article's loop, over `readings` readings.
pub fn article_loop(gateway: SocketAddr, readings: u32) -> Result<f64, String> {
    let hx = Hx711Sim::new(Rate::Sps10);
    hx.set_constant(OFFSET + COUNTS_PER_GRAM * 500);
    let (dout, sck, delay) = hx.pins();
    let mut scale = Hx711::new(dout, sck, delay, HxConfig::new(Rate::Sps10));
    let modem = SimModem::new(
        SimConfig::default()
            .with_network(SSID, PASSWORD)
            .with_baud(Some(115_200)),
    );
    let mut esp = EspAt::new(modem, StdDelay, esp_at::Config::default());
    esp.join(SSID, PASSWORD).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let hx_start = hx.now_ns();
    for _ in 0..readings {
        // scale.power_up(); get_units(10) at 10 SPS: the simulator's virtual time runs in step
        scale.power_up().map_err(|e| format!("{e:?}"))?;
        for _ in 0..10 {
            scale.read().map_err(|e| format!("{e:?}"))?;
        }
        scale.power_down().map_err(|e| format!("{e:?}"))?;
        let link = esp
            .connect(Transport::Tcp, &gateway.ip().to_string(), gateway.port())
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(250));
        std::thread::sleep(Duration::from_millis(300));
        esp.send(link, b"Weight:500.00,Scale.Arduino\r\n")
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(2000));
        let mut buf = [0u8; 16];
        let _ = esp.recv(link, &mut buf);
        std::thread::sleep(Duration::from_millis(1000));
        let _ = esp.close(link);
    }
    // sampling time comes from the HX711 simulator's clock (virtual), the rest is real
    let sampling = (hx.now_ns() - hx_start) as f64 / 1e9;
    Ok((start.elapsed().as_secs_f64() + sampling) / f64::from(readings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_compares_with_the_article() {
        let b = Bench {
            node: vec![
                Throughput {
                    window: 1,
                    per_second: 79.0,
                    uart_bytes: 157.14,
                },
                Throughput {
                    window: 4,
                    per_second: 78.5,
                    uart_bytes: 157.0,
                },
            ],
            article_seconds: 5.0,
        };
        let text = b.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert_eq!(
            lines[1],
            "  scale-node, window 1:   79.00 readings/s,  157.1 UART bytes per reading"
        );
        assert_eq!(
            lines[3],
            "  article loop          :   0.200 readings/s (5.00 s per reading)"
        );
        assert_eq!(lines[4], "  ratio (window 1)      :     395x");
        assert_eq!(lines[5], "  ratio (window 4)      :     392x");
    }
}
