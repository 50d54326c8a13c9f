//! Setup mode, as a user goes through it: a phone on the node's access point scans, calibrates
//! the scale with a known mass, provisions the network and commits.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use esp_at::sim::SimHandle;

use crate::sim::{BOTTLE_G, HostNode, Load, MILK_G, NodeOptions, PASSWORD, SENSOR_ID, SSID};

/// How long the node has to open its setup server, and to answer each line.
const PATIENCE: Duration = Duration::from_secs(10);

/// The lines a phone sends after calibrating: the network, the gateway and the bottle, then
/// `commit`.
pub fn provisioning_lines(gateway: SocketAddr, o: &NodeOptions) -> Vec<String> {
    vec![
        format!("ssid={SSID}"),
        format!("password={PASSWORD}"),
        format!("host={}", gateway.ip()),
        format!("port={}", gateway.port()),
        format!("sensor={SENSOR_ID}"),
        format!("interval_ms={}", o.interval_ms),
        format!("samples={}", o.samples),
        format!("container_g={BOTTLE_G}"),
        format!("full_g={}", BOTTLE_G + MILK_G),
        "full_ml=1000".to_string(),
        "low_percent=20".to_string(),
        format!("format={}", if o.classic { "classic" } else { "extended" }),
        "commit".to_string(),
    ]
}

/// Whether `text` holds the node's whole answer to a line: it ends a line and one of its
/// lines is the status (`OK ...` or `ERR ...`).
pub fn answered(text: &str) -> bool {
    text.ends_with('\n')
        && text
            .lines()
            .any(|l| l.starts_with("OK") || l.starts_with("ERR"))
}

/// Keep the node running while nothing else happens.
fn idle(node: &mut HostNode) {
    node.poll();
    while node.next_event().is_some() {}
    std::thread::sleep(Duration::from_micros(500));
}

/// A phone connected to the node's setup server.
struct Phone(TcpStream);

impl Phone {
    /// Send `line`, run the node until it answers, print both; an error on `ERR` or silence.
    fn say(&mut self, node: &mut HostNode, line: &str) -> Result<(), String> {
        println!("  phone> {line}");
        self.0
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("phone: {e}"))?;
        let mut text = String::new();
        let t0 = Instant::now();
        loop {
            node.poll();
            while node.next_event().is_some() {}
            let mut buf = [0u8; 256];
            if let Ok(n) = self.0.read(&mut buf) {
                text.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or(&[])));
            }
            if answered(&text) {
                break;
            }
            if t0.elapsed() > PATIENCE {
                return Err(format!("no answer to {line}"));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        for l in text.lines() {
            println!("  node>  {}", l.trim());
        }
        if text.lines().any(|l| l.starts_with("ERR")) {
            return Err(format!("the node refused {line}"));
        }
        Ok(())
    }
}

/// Take an unconfigured node through setup mode: calibrate it with a 1 kg bag of sugar and
/// provision it for `gateway`, printing the conversation.
pub fn provision(
    node: &mut HostNode,
    modem: &SimHandle,
    load: &Load,
    gateway: SocketAddr,
    o: &NodeOptions,
) -> Result<(), String> {
    let t0 = Instant::now();
    while modem.server_addr().is_none() {
        if t0.elapsed() > PATIENCE {
            return Err("the node did not open its setup server".into());
        }
        idle(node);
    }
    let addr = modem
        .server_addr()
        .ok_or("the node did not open its setup server")?;
    println!(
        "setup mode: no configuration, so the node opened the access point {:?}; a phone joins \
         it and talks to the setup server (192.168.4.1:333 on a real module; {addr} here)",
        modem.soft_ap().unwrap_or_default()
    );
    let stream = TcpStream::connect(addr).map_err(|e| format!("phone: {e}"))?;
    stream
        .set_nonblocking(true)
        .map_err(|e| format!("phone: {e}"))?;
    let mut phone = Phone(stream);
    phone.say(node, "scan")?;
    println!("  (the scale is empty)");
    phone.say(node, "tare")?;
    println!("  (a 1 kg bag of sugar goes on it)");
    load.set(1_000);
    phone.say(node, "calibrate=1000")?;
    phone.say(node, "weigh")?;
    println!("  (the sugar comes off; the milk bottle goes on)");
    load.set(Load::BOTTLE);
    phone.say(node, "weigh")?;
    for line in provisioning_lines(gateway, o) {
        phone.say(node, &line)?;
    }
    println!("setup done: the node leaves setup mode, joins and streams\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_complete_at_its_status_line() {
        assert!(!answered(""));
        assert!(!answered("AP -52 1 secured fridge-net\n"));
        assert!(!answered("OK 1 networks"), "not the end of the line yet");
        assert!(answered("AP -52 1 secured fridge-net\nOK 1 networks\n"));
        assert!(answered("ERR unknown key\n"));
    }

    #[test]
    fn provisioning_ends_with_commit_and_names_the_gateway() {
        let o = NodeOptions {
            seconds: 6.0,
            interval_ms: 250,
            samples: 5,
            classic: true,
            window: 1,
            amount: true,
            setup: true,
        };
        let lines = provisioning_lines("127.0.0.1:4242".parse().unwrap(), &o);
        assert_eq!(lines.last().map(String::as_str), Some("commit"));
        for want in [
            "ssid=fridge-net",
            "host=127.0.0.1",
            "port=4242",
            "interval_ms=250",
            "samples=5",
            "full_g=1050",
            "format=classic",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
        }
    }
}
