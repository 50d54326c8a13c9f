//! The article's sketch on the Uno, in Rust, on this project's drivers.
//!
//! Every `SCALE_INTERVAL_MS`: weigh (the median of `SCALE_SAMPLES` settled conversions of the
//! HX711 on D9/D8), convert with the build-time calibration, and send
//! `Weight:<grams>,<SensorId>` to the gateway through the ESP8266 on the hardware UART. The link
//! is kept up: Wi-Fi is joined again after a drop, the gateway connection opened again when it
//! closed, and the modem restarted after three failures in a row. An HX711 that does not answer
//! is reported as `SensorFault:0.00,<SensorId>`. The LED on D2 blinks the node's codes (two slow:
//! Wi-Fi join failed; four slow: a send failed; five quick: connected).
//!
//! Unlike the whole node (`node`, which does not fit the ATmega328P yet) there is no setup mode
//! and no store-and-forward: the configuration comes from build-time environment variables only
//! (the same `SCALE_*` as the node, checked the same way), and a reading that cannot be sent is
//! dropped, as in the article.

#![no_std]
#![no_main]

use embedded_hal::delay::DelayNs;
use esp_at::NoPin;
use avia_hx711::filter::{Estimator, Window};
use avia_hx711::{Config as HxConfig, Hx711, Rate};
use panic_halt as _;
use scale_node::fmt::LineBuf;
use scale_node::led::{BlinkCode, Blinker};
use scale_node::telemetry::{Kind, MAX_LINE, Prng, Reading, format_line};
use scale_node::{Clock, EspUplink, NodeConfig, Uplink, UplinkStatus, reached};

use scale_node_uno::board::{self, Delay, Millis, PortB, PortD, Serial};

/// Receive buffer of the AT driver.
const RX: usize = 128;
/// Failures in a row before the modem is restarted.
const RESTART_AFTER: u8 = 3;

type Scale = Hx711<PortB<1>, PortB<0>, Delay>;
type Link = EspUplink<Serial, Delay, NoPin, RX>;

/// The median of `n` settled conversions, raw; `None` when the chip does not answer (every read
/// is bounded by the driver's deadline).
#[inline(never)]
fn weigh(hx: &mut Scale, n: u8) -> Option<i32> {
    let mut w: Window<32> = Window::new();
    for _ in 0..n.max(1) {
        w.push(hx.read_settled().ok()?.raw);
    }
    w.estimate(Estimator::Median)
}

/// Join, connect (each only when needed) and send one line.
#[inline(never)]
fn deliver(link: &mut Link, cfg: &NodeConfig, line: &[u8]) -> Result<(), BlinkCode> {
    if !link.is_joined() {
        link.join(&cfg.ssid, &cfg.password)
            .map_err(|_| BlinkCode::JoinRetry)?;
    }
    if !link.is_connected() {
        link.connect(&cfg.host, cfg.port)
            .map_err(|_| BlinkCode::SendError)?;
    }
    link.send(line).map_err(|_| BlinkCode::SendError)
}

#[avr_device::entry]
fn main() -> ! {
    board::paint_stack();
    let Some(dp) = board::mcu::Peripherals::take() else {
        loop {}
    };
    #[cfg(feature = "stack-report")]
    let mut report = board::StackReport::new(dp.SPI);
    board::start_tick(dp.TC0);
    let serial = Serial::new(dp.USART0);
    let mut led = Blinker::new(PortD::<2>::into_output());
    let dout = PortB::<1>::into_pull_up_input();
    let sck = PortB::<0>::into_output();
    // SAFETY: the handlers only touch their own statics
    unsafe { avr_device::interrupt::enable() };
    let mut clock = Millis::new();

    let mut cfg = NodeConfig::default();
    let Ok(()) = scale_node::build_settings!(&mut cfg, "Scale.Arduino") else {
        // nothing to run with: blink "send error" for ever (see README.md for the variables)
        loop {
            let now = clock.now_ms();
            if led.playing().is_none() {
                led.play(BlinkCode::SendError, now);
            }
            led.update(now);
        }
    };
    let mut hx: Scale = Hx711::new(dout, sck, Delay, HxConfig::new(Rate::Sps10));
    let mut link: Link = EspUplink::new(
        esp_at::EspAt::with_buffer(serial, Delay, esp_at::Config::default()),
        false,
    );
    if !cfg.calibrated
        && let Some(zero) = weigh(&mut hx, 5)
    {
        cfg.calibration.set_offset(zero);
    }

    let mut failures = 0u8;
    let mut seq = 0u32;
    // this boot's id for the extended lines: the first reading's raw code (its noise) mixed
    // with the clock
    let mut boot = 0u32;
    let mut line: LineBuf<MAX_LINE> = LineBuf::new();
    let mut next = clock.now_ms();
    loop {
        // idle until the next reading: the LED pattern and the modem's events go on
        loop {
            let now = clock.now_ms();
            led.update(now);
            if reached(now, next) {
                break;
            }
            let _ = link.poll();
            Delay.delay_ms(5);
        }
        let now = clock.now_ms();
        next = next.wrapping_add(cfg.interval_ms);
        if reached(now, next) {
            next = now;
        }
        let raw = weigh(&mut hx, cfg.samples);
        if boot == 0 {
            boot = Prng::new(raw.unwrap_or(0) as u32 ^ now).next_u32().max(1);
        }
        let reading = match raw {
            Some(raw) => Reading {
                seq,
                kind: Kind::Weight,
                centi: cfg.calibration.to_units(raw),
                flags: 0,
                at_ms: now,
            },
            None => Reading {
                seq,
                kind: Kind::SensorFault,
                centi: 0,
                flags: 0,
                at_ms: now,
            },
        };
        seq = seq.wrapping_add(1);
        format_line(&reading, &cfg.sensor_id, cfg.format, 0, boot, &mut line);
        let was_up = link.is_connected();
        match deliver(&mut link, &cfg, line.as_bytes()) {
            Ok(()) => {
                #[cfg(feature = "stack-report")]
                report.send();
                failures = 0;
                if !was_up {
                    led.play(BlinkCode::Ready, clock.now_ms());
                }
            }
            Err(code) => {
                led.play(code, clock.now_ms());
                failures += 1;
                if failures >= RESTART_AFTER {
                    failures = 0;
                    let _ = link.reset();
                }
            }
        }
    }
}
