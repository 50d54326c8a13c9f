//! The whole node on a PC.
//!
//! A milk bottle on the scale is poured out glass by glass. The HX711 simulator plays the load
//! cell, the ESP8266 simulator plays the modem (115 200 baud pacing, real sockets), and the node
//! streams to a gateway on 127.0.0.1: a built-in one that behaves like the article's, or any
//! address you give. Faults can be injected on a schedule. At the end: a summary.
//!
//! ```text
//! cargo run --release -p scale-node-host -- [options]
//!   --seconds N          how long to run (default 20)
//!   --interval-ms N      time between readings (default 250)
//!   --samples N          samples per reading (default 5)
//!   --gateway HOST:PORT  an external gateway instead of the built-in one
//!   --classic            send the article's classic lines only
//!   --outage-at S        take the built-in gateway down at second S ...
//!   --outage-for S       ... for S seconds (default 3)
//!   --reboot-at S        reboot the modem at second S
//!   --wifi-drop-at S     drop the Wi-Fi at second S
//!   --window N           lines in flight before waiting for statuses (default 1)
//!   --quiet              summary only
//!   --bench              measure readings per second at 80 SPS against the article's loop
//!   --setup              start unconfigured: provision and calibrate it over setup mode first
//! ```

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use avia_hx711::sim::Hx711Sim;
use avia_hx711::{Calibration, Config as HxConfig, Hx711, Mode, Rate};
use esp_at::sim::{SimConfig, SimHandle, SimModem, StdDelay};
use esp_at::{EspAt, Transport};
use scale_node::loopback::ArticleGateway;
use scale_node::{
    Clock, EspUplink, Format, Kind, NoLed, Node, NodeConfig, NodeEvent, RamStorage, Settings,
};

const SSID: &str = "fridge-net";
const PASSWORD: &str = "demo-password-not-a-secret";
/// The load cell: 160 counts per gram (the article's `set_scale(160.f)`) around 8000.
const OFFSET: i64 = 8_000;
const COUNTS_PER_GRAM: i64 = 160;
const BOTTLE_G: i64 = 50;
const MILK_G: i64 = 1_000;

struct Options {
    seconds: f64,
    interval_ms: u32,
    samples: u8,
    gateway: Option<SocketAddr>,
    classic: bool,
    outage_at: Option<f64>,
    outage_for: f64,
    reboot_at: Option<f64>,
    wifi_drop_at: Option<f64>,
    window: u8,
    quiet: bool,
    bench: bool,
    amount: bool,
    setup: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        seconds: 20.0,
        interval_ms: 250,
        samples: 5,
        gateway: None,
        classic: false,
        outage_at: None,
        outage_for: 3.0,
        reboot_at: None,
        wifi_drop_at: None,
        window: 1,
        quiet: false,
        bench: false,
        amount: true,
        setup: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let num = |s: String| s.parse::<f64>().map_err(|e| format!("{s}: {e}"));
        match a.as_str() {
            "--seconds" => o.seconds = num(val("--seconds")?)?,
            "--interval-ms" => o.interval_ms = num(val("--interval-ms")?)? as u32,
            "--samples" => o.samples = num(val("--samples")?)? as u8,
            "--gateway" => {
                o.gateway = Some(
                    val("--gateway")?
                        .parse()
                        .map_err(|e| format!("--gateway: {e}"))?,
                )
            }
            "--classic" => o.classic = true,
            "--outage-at" => o.outage_at = Some(num(val("--outage-at")?)?),
            "--outage-for" => o.outage_for = num(val("--outage-for")?)?,
            "--reboot-at" => o.reboot_at = Some(num(val("--reboot-at")?)?),
            "--wifi-drop-at" => o.wifi_drop_at = Some(num(val("--wifi-drop-at")?)?),
            "--window" => o.window = num(val("--window")?)? as u8,
            "--quiet" => o.quiet = true,
            "--bench" => o.bench = true,
            "--setup" => o.setup = true,
            "-h" | "--help" => {
                println!("{}", include_str!("usage.txt"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other} (try --help)")),
        }
    }
    Ok(o)
}

/// The node's clock: real time, with the HX711 simulator's virtual time pulled along.
struct RealClock {
    start: Instant,
    hx: Hx711Sim,
}

impl Clock for RealClock {
    fn now_ms(&mut self) -> u32 {
        let real = self.start.elapsed().as_nanos() as u64;
        let virt = self.hx.now_ns();
        if real > virt {
            self.hx.advance(real - virt);
        }
        (self.hx.now_ns() / 1_000_000) as u32
    }
}

/// Grams of milk left at `t` seconds: a glass (200 g) poured every `every` seconds.
fn milk_left(t: f64, every: f64) -> i64 {
    let glasses = (t / every).floor() as i64;
    (MILK_G - 200 * glasses).max(30)
}

type HostNode = Node<
    Hx711<avia_hx711::sim::SimDout, avia_hx711::sim::SimSck, avia_hx711::sim::SimDelay>,
    EspUplink<SimModem, StdDelay>,
    RealClock,
    NoLed,
    RamStorage<{ scale_node::config::CONFIG_MAX }>,
    256,
>;

/// What is on the scale, grams, when not the milk bottle ([`BOTTLE`]).
type Load = Arc<AtomicI64>;
/// The load follows the milk bottle being poured out.
const BOTTLE: i64 = i64::MIN;

fn build(o: &Options, gateway: SocketAddr, rate: Rate) -> (HostNode, Hx711Sim, SimHandle, Load) {
    let hx = Hx711Sim::new(rate);
    hx.set_noise(40);
    let every = (o.seconds / 6.0).max(1.0);
    let load: Load = Arc::new(AtomicI64::new(if o.setup { 0 } else { BOTTLE }));
    let on_scale = load.clone();
    hx.set_load(move |ns, mode| {
        let t = ns as f64 / 1e9;
        let grams = match on_scale.load(Ordering::Relaxed) {
            BOTTLE => BOTTLE_G + milk_left(t, every),
            g => g,
        };
        match mode {
            Mode::A128 => OFFSET + COUNTS_PER_GRAM * grams,
            Mode::A64 => (OFFSET + COUNTS_PER_GRAM * grams) / 2,
            Mode::B32 => 0,
        }
    });
    let (dout, sck, delay) = hx.pins();
    let sensor = Hx711::new(dout, sck, delay, HxConfig::new(rate));
    let modem = SimModem::new(
        SimConfig::default()
            .with_network(SSID, PASSWORD)
            .with_baud(Some(115_200))
            .with_join_delay(Duration::from_millis(300)),
    );
    let handle = modem.handle();
    let esp = EspAt::new(modem, StdDelay, esp_at::Config::default().with_poll_us(100));
    let uplink = EspUplink::new(esp, false);
    let mut cfg = NodeConfig {
        port: gateway.port(),
        interval_ms: o.interval_ms,
        samples: o.samples,
        calibration: Calibration::from_known_mass(
            OFFSET as i32,
            (OFFSET + COUNTS_PER_GRAM * 100) as i32,
            10_000,
        )
        .unwrap_or_default(),
        calibrated: true,
        container_cg: (BOTTLE_G * 100) as i32,
        full_cg: if o.amount {
            ((BOTTLE_G + MILK_G) * 100) as i32
        } else {
            0
        },
        low_centipct: 2_000,
        full_ml: if o.amount { 1_000 } else { 0 },
        format: if o.classic {
            Format::Classic
        } else {
            Format::Extended
        },
        ..NodeConfig::default()
    };
    let _ = cfg.ssid.push_str(SSID);
    let _ = cfg.password.push_str(PASSWORD);
    let _ = cfg.host.push_str(&gateway.ip().to_string());
    let _ = cfg.sensor_id.push_str("Scale.Arduino");
    let settings = Settings {
        window: o.window.max(1),
        // short for a demo of a few seconds: the faults below are over in seconds
        backoff_base_ms: 250,
        backoff_max_ms: 2_000,
        // a board takes it from its random number generator; a PC from std
        boot_id: scale_node::loopback::random_boot_id(),
        // the simulated module's setup server on a free port of this machine
        setup_port: if o.setup { 0 } else { 333 },
        ..Settings::default()
    };
    let clock = RealClock {
        start: Instant::now(),
        hx: hx.clone(),
    };
    let node = Node::new(
        sensor,
        uplink,
        clock,
        NoLed,
        RamStorage::default(),
        settings,
        (!o.setup).then_some(cfg),
        false,
    );
    (node, hx, handle, load)
}

/// Setup mode, as a user would go through it: a phone on the node's access point scans,
/// calibrates the scale with a known mass, provisions the network and commits.
fn provision(
    node: &mut HostNode,
    modem: &SimHandle,
    load: &Load,
    gateway: SocketAddr,
    o: &Options,
) -> Result<(), String> {
    let t0 = Instant::now();
    while modem.server_addr().is_none() {
        if t0.elapsed() > Duration::from_secs(10) {
            return Err("the node did not open its setup server".into());
        }
        node.poll();
        while node.next_event().is_some() {}
        std::thread::sleep(Duration::from_micros(500));
    }
    let addr = modem
        .server_addr()
        .ok_or("the node did not open its setup server")?;
    println!(
        "setup mode: no configuration, so the node opened the access point {:?}; a phone joins \
         it and talks to the setup server (192.168.4.1:333 on a real module; {addr} here)",
        modem.soft_ap().unwrap_or_default()
    );
    let mut phone = std::net::TcpStream::connect(addr).map_err(|e| format!("phone: {e}"))?;
    phone
        .set_nonblocking(true)
        .map_err(|e| format!("phone: {e}"))?;
    let mut say = |node: &mut HostNode, line: &str| -> Result<(), String> {
        println!("  phone> {line}");
        phone
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("phone: {e}"))?;
        let mut text = String::new();
        let t0 = Instant::now();
        loop {
            node.poll();
            while node.next_event().is_some() {}
            let mut buf = [0u8; 256];
            if let Ok(n) = phone.read(&mut buf) {
                text.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or(&[])));
            }
            if text.ends_with('\n')
                && text
                    .lines()
                    .any(|l| l.starts_with("OK") || l.starts_with("ERR"))
            {
                break;
            }
            if t0.elapsed() > Duration::from_secs(10) {
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
    };
    say(node, "scan")?;
    println!("  (the scale is empty)");
    say(node, "tare")?;
    println!("  (a 1 kg bag of sugar goes on it)");
    load.store(1_000, Ordering::Relaxed);
    say(node, "calibrate=1000")?;
    say(node, "weigh")?;
    println!("  (the sugar comes off; the milk bottle goes on)");
    load.store(BOTTLE, Ordering::Relaxed);
    say(node, "weigh")?;
    for line in [
        format!("ssid={SSID}"),
        format!("password={PASSWORD}"),
        format!("host={}", gateway.ip()),
        format!("port={}", gateway.port()),
        "sensor=Scale.Arduino".to_string(),
        format!("interval_ms={}", o.interval_ms),
        format!("samples={}", o.samples),
        format!("container_g={BOTTLE_G}"),
        format!("full_g={}", BOTTLE_G + MILK_G),
        "full_ml=1000".to_string(),
        "low_percent=20".to_string(),
        format!("format={}", if o.classic { "classic" } else { "extended" }),
        "commit".to_string(),
    ] {
        say(node, &line)?;
    }
    println!("setup done: the node leaves setup mode, joins and streams\n");
    Ok(())
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Weight => "weight  ",
        Kind::Amount => "left    ",
        Kind::Volume => "volume  ",
        Kind::LowStock => "LOW MILK",
        Kind::SensorFault => "SENSOR FAULT",
        _ => "reading ",
    }
}

fn unit(kind: Kind) -> &'static str {
    match kind {
        Kind::Weight => "g",
        Kind::Amount | Kind::LowStock => "%",
        Kind::Volume => "ml",
        _ => "",
    }
}

fn run(o: &Options) -> Result<(), String> {
    let builtin = match o.gateway {
        Some(_) => None,
        None => Some(ArticleGateway::start(0).map_err(|e| format!("gateway: {e}"))?),
    };
    let addr = match (&builtin, o.gateway) {
        (Some(g), _) => g.addr(),
        (None, Some(a)) => a,
        (None, None) => return Err("no gateway".into()),
    };
    println!(
        "scale-node on the PC: HX711 (simulated, 10 SPS) -> node -> ESP8266 (simulated, 115200 baud) -> TCP {addr} ({})",
        if builtin.is_some() {
            "built-in gateway, article protocol"
        } else {
            "your gateway"
        }
    );
    let (mut node, _hx, modem, load) = build(o, addr, Rate::Sps10);
    if o.setup {
        provision(&mut node, &modem, &load, addr, o)?;
    }
    let start = Instant::now();
    let mut outage_done = false;
    let mut outage_end = None;
    let mut reboot_done = false;
    let mut drop_done = false;
    let mut last_progress = 0.0;
    while start.elapsed().as_secs_f64() < o.seconds {
        node.poll();
        let t = start.elapsed().as_secs_f64();
        if let (Some(at), Some(g)) = (o.outage_at, &builtin)
            && !outage_done
            && t >= at
        {
            println!("[{t:6.2}s] !! gateway goes down for {:.1} s", o.outage_for);
            g.set_down(true);
            outage_done = true;
            outage_end = Some(at + o.outage_for);
        }
        if let (Some(end), Some(g)) = (outage_end, &builtin)
            && t >= end
        {
            println!("[{t:6.2}s] !! gateway is back");
            g.set_down(false);
            outage_end = None;
        }
        if let Some(at) = o.reboot_at
            && !reboot_done
            && t >= at
        {
            println!("[{t:6.2}s] !! modem reboots");
            modem.reboot();
            reboot_done = true;
        }
        if let Some(at) = o.wifi_drop_at
            && !drop_done
            && t >= at
        {
            println!("[{t:6.2}s] !! Wi-Fi drops");
            modem.drop_wifi();
            drop_done = true;
        }
        while let Some(e) = node.next_event() {
            if o.quiet {
                continue;
            }
            match e {
                NodeEvent::Delivered(r) => println!(
                    "[{t:6.2}s] #{:<4} {} {:>8} {:<2} delivered{}",
                    r.seq,
                    describe(r.kind),
                    format!("{}.{:02}", r.centi / 100, (r.centi % 100).abs()),
                    unit(r.kind),
                    if r.flags & scale_node::telemetry::flags::RETRY != 0 {
                        " (retried)"
                    } else {
                        ""
                    }
                ),
                NodeEvent::Measured(_) | NodeEvent::Rejected(..) => {}
                other => println!("[{t:6.2}s] {other:?}"),
            }
        }
        if !o.quiet && t - last_progress >= 2.0 {
            last_progress = t;
            let s = node.stats();
            let pct = (t / o.seconds * 100.0).min(100.0);
            println!(
                "[{t:6.2}s] ---- {pct:3.0}% | state {:?} | taken {} sent {} acked {} queued {}",
                node.state(),
                s.readings,
                s.sent,
                s.acked,
                node.queued()
            );
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    // let the queue drain for a moment
    let drain = Instant::now();
    while node.queued() > 0 && drain.elapsed() < Duration::from_secs(5) {
        node.poll();
        while node.next_event().is_some() {}
        std::thread::sleep(Duration::from_micros(500));
    }
    let s = node.stats();
    let (tx, rx) = modem.uart_bytes();
    let lines = builtin.as_ref().map(|g| g.messages().len());
    println!("\nsummary after {:.1} s", start.elapsed().as_secs_f64());
    println!("  weight readings taken    {}", s.readings);
    println!(
        "  lines sent               {} (retries {})",
        s.sent, s.retried
    );
    println!("  boot id                  {}", node.boot_id());
    println!("  acknowledged (2xx)       {}", s.acked);
    println!("  refused (400/413)        {}", s.refused);
    println!("  replies not a status     {}", s.bad_replies);
    println!("  still queued             {}", node.queued());
    println!("  dropped (queue full)     {}", s.dropped);
    // a refused reading reached the gateway, which said no: reported above, not lost
    println!(
        "  lost                     {}",
        s.dropped as usize + node.queued()
    );
    println!(
        "  joins / connects / modem resets  {} / {} / {}",
        s.joins, s.connects, s.modem_resets
    );
    if let Some(n) = lines {
        println!("  lines at the gateway     {n}");
    }
    println!("  UART bytes               {tx} to the modem, {rx} from it");
    if s.dropped > 0 || node.queued() > 0 {
        return Err(format!(
            "{} readings not delivered",
            s.dropped as usize + node.queued()
        ));
    }
    Ok(())
}

/// Readings per second through the simulated modem at 115 200 baud with the HX711 at 80 SPS
/// and one sample per reading, and the article's loop (new TCP connection and fixed waits per
/// reading) on the same simulators, in the same run.
fn bench(o: &Options) -> Result<(), String> {
    let gw = ArticleGateway::start(0).map_err(|e| e.to_string())?;
    let seconds = o.seconds.min(10.0);
    let mut results = Vec::new();
    for window in [1u8, 4] {
        // weight lines only, one sample per reading, a reading per conversion
        let opts = Options {
            interval_ms: 12,
            samples: 1,
            window,
            classic: false,
            amount: false,
            ..*o
        };
        let (mut node, _hx, modem, _) = build(&opts, gw.addr(), Rate::Sps80);
        // connect first
        let t0 = Instant::now();
        while node.state() != scale_node::State::Stream && t0.elapsed() < Duration::from_secs(10) {
            node.poll();
        }
        let (tx0, rx0) = modem.uart_bytes();
        let acked0 = node.stats().acked;
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            node.poll();
            while node.next_event().is_some() {}
        }
        let dt = start.elapsed().as_secs_f64();
        let acked = node.stats().acked - acked0;
        let (tx, rx) = modem.uart_bytes();
        let bytes = (tx - tx0 + rx - rx0) as f64 / f64::from(acked.max(1));
        results.push((window, f64::from(acked) / dt, bytes));
    }
    // the article's loop, measured: power up, 10 samples at 10 SPS, CIPSTART, 250 ms,
    // CIPSEND, 300 ms, data, 2000 ms, read back, 1000 ms, power down; a new connection each time
    let article = article_loop(gw.addr(), 2)?;
    println!(
        "readings per second delivered end to end (simulated ESP8266 at 115200 baud, HX711 at 80 SPS):"
    );
    for (window, rps, bytes) in &results {
        println!(
            "  scale-node, window {window}: {rps:7.2} readings/s, {bytes:6.1} UART bytes per reading"
        );
    }
    println!(
        "  article loop          : {:7.3} readings/s ({:.2} s per reading)",
        1.0 / article,
        article
    );
    for (window, rps, _) in &results {
        println!("  ratio (window {window})      : {:7.0}x", rps * article);
    }
    println!("  HX711 at 80 SPS       :   80.00 samples/s");
    Ok(())
}

fn article_loop(gateway: SocketAddr, readings: u32) -> Result<f64, String> {
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

fn main() -> ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let r = if o.bench { bench(&o) } else { run(&o) };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
