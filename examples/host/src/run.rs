//! The demo run: the node streams to a gateway for a while, faults happen on their schedule,
//! and the summary says what was delivered.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use avia_hx711::Rate;
use scale_node::NodeEvent;
use scale_node::loopback::ArticleGateway;

use crate::cli::Args;
use crate::report::{self, Summary};
use crate::scenario::Fault;
use crate::setup;
use crate::sim::{self, HostNode};

/// How long the node has after the run to deliver what it still holds.
const DRAIN: Duration = Duration::from_secs(5);

/// Run the node as `args` say: an error when it could not start or lost a reading.
pub fn run(args: &Args) -> Result<(), String> {
    let builtin = match args.gateway {
        Some(_) => None,
        None => Some(ArticleGateway::start(0).map_err(|e| format!("gateway: {e}"))?),
    };
    let addr: SocketAddr = match (&builtin, args.gateway) {
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
    let opts = args.node_options();
    let sim::Rig {
        mut node,
        hx: _hx,
        modem,
        load,
    } = sim::build(&opts, addr, Rate::Sps10);
    if opts.setup {
        setup::provision(&mut node, &modem, &load, addr, &opts)?;
    }
    let mut schedule = args.schedule(builtin.is_some());
    let start = Instant::now();
    let mut last_progress = 0.0;
    while start.elapsed().as_secs_f64() < args.seconds {
        node.poll();
        let t = start.elapsed().as_secs_f64();
        for fault in schedule.due(t) {
            println!("[{t:6.2}s] !! {fault}");
            match fault {
                Fault::GatewayDown { .. } | Fault::GatewayBack => {
                    if let Some(g) = &builtin {
                        g.set_down(matches!(fault, Fault::GatewayDown { .. }));
                    }
                }
                Fault::ModemReboot => modem.reboot(),
                Fault::WifiDrop => modem.drop_wifi(),
            }
        }
        while let Some(e) = node.next_event() {
            if args.quiet {
                continue;
            }
            match e {
                NodeEvent::Delivered(r) => println!("{}", report::delivered(t, &r)),
                NodeEvent::Measured(_) | NodeEvent::Rejected(..) => {}
                other => println!("[{t:6.2}s] {other:?}"),
            }
        }
        if !args.quiet && t - last_progress >= 2.0 {
            last_progress = t;
            println!(
                "{}",
                report::progress(t, args.seconds, node.state(), &node.stats(), node.queued())
            );
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    drain(&mut node);
    let mut summary = Summary::new(
        start.elapsed().as_secs_f64(),
        &node.stats(),
        node.boot_id(),
        node.queued(),
    );
    summary.gateway_lines = builtin.as_ref().map(|g| g.messages().len());
    (summary.uart_tx, summary.uart_rx) = modem.uart_bytes();
    println!("\n{summary}");
    summary.check()
}

/// Let the queue drain for a moment.
fn drain(node: &mut HostNode) {
    let t0 = Instant::now();
    while node.queued() > 0 && t0.elapsed() < DRAIN {
        node.poll();
        while node.next_event().is_some() {}
        std::thread::sleep(Duration::from_micros(500));
    }
}
