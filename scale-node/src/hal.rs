//! The small traits the node runs on, and their implementations for the `avia-hx711` and
//! `esp-at` drivers. Other sensors and uplinks fit by implementing them.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_io::{Read, ReadReady, Write};
use esp_at::{EspAt, Link, Transport};

/// A millisecond clock.
///
/// The value wraps around after 2^32 ms (about 49.7 days); the node compares times with
/// wrapping arithmetic, so a free-running 32-bit counter is all a board needs.
pub trait Clock {
    /// Now, ms (wrapping).
    fn now_ms(&mut self) -> u32;
}

/// A load sensor that produces raw samples without blocking.
pub trait Sensor {
    /// The sensor's error.
    type Error: core::fmt::Debug;
    /// A sample if one is ready, as an `nb::Result` (`Err(nb::Error::WouldBlock)` otherwise).
    /// `Ok(None)`: a sample was read but is not valid yet (settling); `Ok(Some((raw,
    /// saturated)))` otherwise.
    fn sample(&mut self) -> nb::Result<Option<(i32, bool)>, Self::Error>;
    /// Wait (bounded) for one valid sample (used for tare at boot).
    fn sample_blocking(&mut self) -> Result<(i32, bool), Self::Error>;
    /// Enter low-power mode.
    fn power_down(&mut self) -> Result<(), Self::Error>;
    /// Leave low-power mode.
    fn power_up(&mut self) -> Result<(), Self::Error>;
    /// Time from `power_up` to valid samples, ms (settling).
    fn wake_time_ms(&self) -> u32;
    /// Time per sample, ms.
    fn sample_period_ms(&self) -> u32;
}

impl<DOUT, SCK, D, C> Sensor for avia_hx711::Hx711<DOUT, SCK, D, C>
where
    DOUT: InputPin,
    SCK: OutputPin,
    D: DelayNs,
    C: avia_hx711::Clock,
    DOUT::Error: core::fmt::Debug,
    SCK::Error: core::fmt::Debug,
{
    type Error = avia_hx711::Error<DOUT::Error, SCK::Error>;

    fn sample(&mut self) -> nb::Result<Option<(i32, bool)>, Self::Error> {
        let s = self.try_read()?;
        Ok(s.settled.then_some((s.raw, s.is_saturated())))
    }

    fn sample_blocking(&mut self) -> Result<(i32, bool), Self::Error> {
        let s = self.read_settled()?;
        Ok((s.raw, s.is_saturated()))
    }

    fn power_down(&mut self) -> Result<(), Self::Error> {
        avia_hx711::Hx711::power_down(self)
    }

    fn power_up(&mut self) -> Result<(), Self::Error> {
        avia_hx711::Hx711::power_up(self)
    }

    fn wake_time_ms(&self) -> u32 {
        // five conversions: one to select the mode again, four to settle
        avia_hx711::math::div_rem_u32(
            avia_hx711::math::saturating_mul_u32(self.config().rate.period_us(), 5),
            1000,
        )
        .0
    }

    fn sample_period_ms(&self) -> u32 {
        avia_hx711::math::div_rem_u32(self.config().rate.period_us().saturating_add(999), 1000).0
    }
}

/// A sensor whose samples can be awaited (feature `async`): the node's async loop sleeps on it
/// instead of polling while a reading is being collected, and awaits the settled samples of a
/// tare or a calibration instead of blocking.
#[cfg(feature = "async")]
#[allow(async_fn_in_trait)] // used from single-threaded executors; no Send bound wanted
pub trait SensorWait: Sensor {
    /// Return when a sample is ready or `timeout_ms` passed, whichever comes first.
    async fn wait_ready(&mut self, timeout_ms: u32);
    /// [`Sensor::sample_blocking`], awaited: one valid sample, within the sensor's deadlines.
    async fn sample_settled(&mut self) -> Result<(i32, bool), Self::Error>;
}

#[cfg(feature = "async")]
use embedded_hal_async::delay::DelayNs as AsyncDelayNs;

#[cfg(feature = "async")]
impl<DOUT, SCK, D, C> SensorWait for avia_hx711::Hx711<DOUT, SCK, D, C>
where
    DOUT: InputPin + embedded_hal_async::digital::Wait,
    SCK: OutputPin,
    D: DelayNs + AsyncDelayNs,
    C: avia_hx711::Clock,
    DOUT::Error: core::fmt::Debug,
    SCK::Error: core::fmt::Debug,
{
    async fn wait_ready(&mut self, timeout_ms: u32) {
        // DOUT falling edge through the HAL's `Wait`, raced against the deadline in the driver
        let _ = self
            .wait_ready_async(timeout_ms.saturating_mul(1_000))
            .await;
    }

    async fn sample_settled(&mut self) -> Result<(i32, bool), Self::Error> {
        let s = self.read_settled_async().await?;
        Ok((s.raw, s.is_saturated()))
    }
}

/// How an uplink failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Fault {
    /// The Wi-Fi join was refused (wrong password, AP not found ...): retry later.
    Join,
    /// The Wi-Fi connection is gone: rejoin.
    WifiDown,
    /// The connection to the gateway is gone: reconnect.
    LinkDown,
    /// The modem rebooted or stopped answering: it has lost its state.
    Modem,
    /// Anything else: retry the same step.
    Other,
}

/// What every uplink tells without I/O: its error, how the node should handle one, and the
/// link's state as last seen. [`Uplink`] (blocking) and [`AsyncUplink`] (feature `async`) add
/// the operations.
pub trait UplinkStatus {
    /// The uplink's error.
    type Error: core::fmt::Debug;
    /// Classify an error for the supervisor.
    fn fault(e: &Self::Error) -> Fault;
    /// Whether the station has an address.
    fn is_joined(&self) -> bool;
    /// Whether the gateway connection is open.
    fn is_connected(&self) -> bool;
}

/// A network link to the gateway, with a Wi-Fi join and a setup mode: the blocking operations
/// [`Node::poll`](crate::Node::poll) uses. Each must be bounded in time (esp-at's are, by the
/// deadlines in its `Config`).
pub trait Uplink: UplinkStatus {
    /// Process unsolicited events (link closes, reboots).
    fn poll(&mut self) -> Result<(), Self::Error>;
    /// Join a Wi-Fi network.
    fn join(&mut self, ssid: &str, password: &str) -> Result<(), Self::Error>;
    /// Open the gateway connection.
    fn connect(&mut self, host: &str, port: u16) -> Result<(), Self::Error>;
    /// Send bytes on the gateway connection.
    fn send(&mut self, data: &[u8]) -> Result<(), Self::Error>;
    /// Read what the gateway sent (0: nothing now).
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
    /// Close the gateway connection.
    fn disconnect(&mut self);
    /// Reset the modem (hard if possible) and bring it back up.
    fn reset(&mut self) -> Result<(), Self::Error>;
    /// Start the setup access point and its TCP server.
    fn start_setup(&mut self, ssid: &str, port: u16) -> Result<(), Self::Error>;
    /// Read from the setup client (0: nothing; accepts a new client when there is none).
    fn setup_recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
    /// Answer the setup client.
    fn setup_send(&mut self, data: &[u8]) -> Result<(), Self::Error>;
    /// Leave setup mode.
    fn stop_setup(&mut self) -> Result<(), Self::Error>;
    /// The access points in range, strongest first in `out`; returns how many were heard.
    /// (Default: an uplink that cannot scan hears none.)
    fn scan(&mut self, out: &mut [esp_at::AccessPoint]) -> Result<usize, Self::Error> {
        let _ = out;
        Ok(0)
    }
}

/// The same operations as [`Uplink`], awaited (feature `async`): what the node's async loop
/// ([`Node::step`](crate::Node::step), [`Node::run`](crate::Node::run)) uses, so that a slow
/// modem suspends the node's task instead of holding the executor.
#[cfg(feature = "async")]
#[allow(async_fn_in_trait)] // used from single-threaded executors; no Send bound wanted
pub trait AsyncUplink: UplinkStatus {
    /// Process unsolicited events (link closes, reboots) that have arrived; never waits for more.
    async fn poll(&mut self) -> Result<(), Self::Error>;
    /// Join a Wi-Fi network.
    async fn join(&mut self, ssid: &str, password: &str) -> Result<(), Self::Error>;
    /// Open the gateway connection.
    async fn connect(&mut self, host: &str, port: u16) -> Result<(), Self::Error>;
    /// Send bytes on the gateway connection.
    async fn send(&mut self, data: &[u8]) -> Result<(), Self::Error>;
    /// Read what the gateway sent (0: nothing now).
    async fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
    /// Close the gateway connection.
    async fn disconnect(&mut self);
    /// Reset the modem (hard if possible) and bring it back up.
    async fn reset(&mut self) -> Result<(), Self::Error>;
    /// Start the setup access point and its TCP server.
    async fn start_setup(&mut self, ssid: &str, port: u16) -> Result<(), Self::Error>;
    /// Read from the setup client (0: nothing; accepts a new client when there is none).
    async fn setup_recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;
    /// Answer the setup client.
    async fn setup_send(&mut self, data: &[u8]) -> Result<(), Self::Error>;
    /// Leave setup mode.
    async fn stop_setup(&mut self) -> Result<(), Self::Error>;
    /// The access points in range, strongest first in `out`; returns how many were heard.
    /// (Default: an uplink that cannot scan hears none.)
    async fn scan(&mut self, out: &mut [esp_at::AccessPoint]) -> Result<usize, Self::Error> {
        let _ = out;
        Ok(0)
    }
}

/// The uplink operations over an `esp-at` driver, for both front ends: the blocking
/// [`EspUplink`] and the async [`AsyncEspUplink`] (one source, as esp-at's own front ends).
macro_rules! esp_uplink_operations {
    ($($async_kw:ident)?; $($await:tt)*) => {
        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn poll(&mut self) -> Result<(), Self::Error> {
            self.esp.poll()$($await)*
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn join(&mut self, ssid: &str, password: &str) -> Result<(), Self::Error> {
            self.esp.join(ssid, password)$($await)*
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn connect(&mut self, host: &str, port: u16) -> Result<(), Self::Error> {
            if let Some(l) = self.link.take() {
                let _ = self.esp.close(l)$($await)*;
            }
            self.link = Some(self.esp.connect(Transport::Tcp, host, port)$($await)*?);
            Ok(())
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn send(&mut self, data: &[u8]) -> Result<(), Self::Error> {
            let link = self.link.ok_or(esp_at::Error::LinkClosed)?;
            self.esp.send(link, data)$($await)*
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let link = self.link.ok_or(esp_at::Error::LinkClosed)?;
            self.esp.recv(link, buf)$($await)*
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn disconnect(&mut self) {
            if let Some(l) = self.link.take() {
                let _ = self.esp.close(l)$($await)*;
            }
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn reset(&mut self) -> Result<(), Self::Error> {
            self.link = None;
            self.setup_link = None;
            if self.hard_reset {
                self.esp.hard_reset()$($await)*.map(|_| ())
            } else {
                self.esp.restart()$($await)*.map(|_| ())
            }
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn start_setup(&mut self, ssid: &str, port: u16) -> Result<(), Self::Error> {
            self.esp.start_soft_ap(ssid, "", 6)$($await)*?;
            self.esp.server(Some(port))$($await)*
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn setup_recv(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            self.esp.poll()$($await)*?;
            if self
                .setup_link
                .is_none_or(|l| !self.esp.is_open(l) && self.esp.pending(l) == 0)
            {
                self.setup_link = self.esp.accept();
            }
            match self.setup_link {
                Some(l) => match self.esp.recv(l, buf)$($await)* {
                    Err(esp_at::Error::LinkClosed) => {
                        self.setup_link = None;
                        Ok(0)
                    }
                    r => r,
                },
                None => Ok(0),
            }
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn setup_send(&mut self, data: &[u8]) -> Result<(), Self::Error> {
            match self.setup_link {
                Some(l) => self.esp.send(l, data)$($await)*,
                None => Err(esp_at::Error::LinkClosed),
            }
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn stop_setup(&mut self) -> Result<(), Self::Error> {
            if let Some(l) = self.setup_link.take() {
                let _ = self.esp.close(l)$($await)*;
            }
            self.esp.server(None)$($await)*
        }

        #[inline(never)] // one copy: keeps small targets (AVR) small
        $($async_kw)? fn scan(&mut self, out: &mut [esp_at::AccessPoint]) -> Result<usize, Self::Error> {
            self.esp.scan(out)$($await)*
        }
    };
}

/// How the node handles esp-at's errors (both front ends).
fn esp_fault<E>(e: &esp_at::Error<E>) -> Fault {
    use esp_at::Error as E;
    match e {
        E::Join(_) => Fault::Join,
        E::LinkClosed | E::SendFailed => Fault::LinkDown,
        E::Rebooted | E::Timeout | E::Io(_) | E::ResetPin => Fault::Modem,
        E::Failed | E::Dns | E::NoFreeLink => Fault::LinkDown,
        _ => Fault::Other,
    }
}

/// An uplink over one of esp-at's front ends (the driver type, and its default receive buffer).
macro_rules! esp_uplink_type {
    ($(#[$doc:meta])* $name:ident, $driver:ty, $rx:literal) => {
        $(#[$doc])*
        pub struct $name<T, D, P = esp_at::NoPin, const RX: usize = $rx> {
            esp: $driver,
            link: Option<Link>,
            setup_link: Option<Link>,
            hard_reset: bool,
        }

        impl<T, D, P, const RX: usize> $name<T, D, P, RX> {
            /// Wrap a driver. With `hard_reset`, `reset` pulses the reset pin instead of `AT+RST`.
            pub fn new(esp: $driver, hard_reset: bool) -> Self {
                $name {
                    esp,
                    link: None,
                    setup_link: None,
                    hard_reset,
                }
            }

            /// The driver.
            pub fn driver(&mut self) -> &mut $driver {
                &mut self.esp
            }

            /// Give the driver back.
            pub fn release(self) -> $driver {
                self.esp
            }
        }

        impl<T, D, P, const RX: usize> core::fmt::Debug for $name<T, D, P, RX> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("link", &self.link)
                    .field("setup_link", &self.setup_link)
                    .field("hard_reset", &self.hard_reset)
                    .finish_non_exhaustive()
            }
        }

        impl<T, D, P, const RX: usize> UplinkStatus for $name<T, D, P, RX>
        where
            T: embedded_io::ErrorType,
            T::Error: core::fmt::Debug,
        {
            type Error = esp_at::Error<T::Error>;

            fn fault(e: &Self::Error) -> Fault {
                esp_fault(e)
            }

            fn is_joined(&self) -> bool {
                self.esp.wifi_state().got_ip
            }

            fn is_connected(&self) -> bool {
                self.link.is_some_and(|l| self.esp.is_open(l))
            }
        }
    };
}

esp_uplink_type!(
    /// [`Uplink`] over the blocking `esp-at` driver.
    EspUplink,
    EspAt<T, D, P, RX>,
    256
);

impl<T, D, P, const RX: usize> Uplink for EspUplink<T, D, P, RX>
where
    T: Read + Write + ReadReady,
    T::Error: core::fmt::Debug,
    D: DelayNs,
    P: OutputPin,
{
    esp_uplink_operations!(;);
}

#[cfg(feature = "async")]
esp_uplink_type!(
    /// [`AsyncUplink`] over the async `esp-at` driver (`esp_at::asynch::EspAt`, over
    /// `embedded-io-async`): every modem wait is an `.await`.
    AsyncEspUplink,
    esp_at::asynch::EspAt<T, D, P, RX>,
    512
);

#[cfg(feature = "async")]
impl<T, D, P, const RX: usize> AsyncUplink for AsyncEspUplink<T, D, P, RX>
where
    T: embedded_io_async::Read + embedded_io_async::Write,
    T::Error: core::fmt::Debug,
    D: embedded_hal_async::delay::DelayNs,
    P: OutputPin,
{
    esp_uplink_operations!(async; .await);
}
