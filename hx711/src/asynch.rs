//! Async reads: `DOUT` is awaited through `embedded_hal_async::digital::Wait`, raced against
//! an async deadline. The clock pulses themselves run synchronously: no `.await` ever lands
//! between two `PD_SCK` edges, so an executor cannot stretch a pulse into a power-down.

use embassy_futures::select::{Either, select};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal_async::delay::DelayNs as AsyncDelayNs;
use embedded_hal_async::digital::Wait;

use crate::config::{SETTLING_CONVERSIONS, SettlePolicy};
use crate::driver::{Clock, Hx711, Res};
use crate::error::Error;
use crate::sample::Sample;

impl<DOUT, SCK, D, C> Hx711<DOUT, SCK, D, C>
where
    DOUT: InputPin + Wait,
    SCK: OutputPin,
    D: DelayNs + AsyncDelayNs,
    C: Clock,
{
    /// Await a conversion with the configured deadline and read it; unsettled conversions
    /// are handled by the settle policy as in [`read`](Hx711::read).
    pub async fn read_async(&mut self) -> Res<Sample, DOUT, SCK> {
        let timeout = self.config.ready_timeout();
        self.read_async_with_timeout(timeout).await
    }

    /// Like [`read_async`](Self::read_async) with an explicit deadline per conversion.
    pub async fn read_async_with_timeout(&mut self, timeout_us: u32) -> Res<Sample, DOUT, SCK> {
        for _ in 0..(SETTLING_CONVERSIONS + 2) {
            self.wait_ready_async(timeout_us).await?;
            let sample = self.frame()?;
            if sample.settled || self.config.settle == SettlePolicy::Flag {
                return Ok(sample);
            }
        }
        Err(Error::Timeout)
    }

    /// [`read_settled`](Hx711::read_settled), awaited: always waits for a settled sample,
    /// whatever the settle policy, each conversion awaited with the configured deadline.
    pub async fn read_settled_async(&mut self) -> Res<Sample, DOUT, SCK> {
        let timeout = self.config.ready_timeout();
        for _ in 0..(SETTLING_CONVERSIONS + 2) {
            self.wait_ready_async(timeout).await?;
            let s = self.frame()?;
            if s.settled {
                return Ok(s);
            }
        }
        Err(Error::Timeout)
    }

    /// Await `DOUT` low, at most `timeout_us`.
    pub async fn wait_ready_async(&mut self, timeout_us: u32) -> Res<(), DOUT, SCK> {
        if self.powered_down {
            return Err(Error::PoweredDown);
        }
        self.sck.set_low().map_err(Error::Output)?;
        if self.dout.is_low().map_err(Error::Input)? {
            return Ok(());
        }
        let dout = &mut self.dout;
        let delay = &mut self.delay;
        match select(
            dout.wait_for_low(),
            AsyncDelayNs::delay_us(delay, timeout_us),
        )
        .await
        {
            Either::First(r) => r.map_err(Error::Input),
            Either::Second(()) => Err(Error::Timeout),
        }
    }
}
