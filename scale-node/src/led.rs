//! Status LED blink codes (the article's): 5 quick = ready, 2 slow = Wi-Fi join retry,
//! 4 slow = send error. Driven from `poll()`, never blocking.

use embedded_hal::digital::OutputPin;

/// A blink code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum BlinkCode {
    /// Five quick blinks (100 ms): connected and streaming.
    Ready,
    /// Two slow blinks (300 ms): Wi-Fi join failed, retrying.
    JoinRetry,
    /// Four slow blinks (300 ms): a send failed.
    SendError,
    /// One slow blink, repeated: setup mode.
    Setup,
}

impl BlinkCode {
    const fn pattern(self) -> (u8, u16) {
        match self {
            BlinkCode::Ready => (5, 100),
            BlinkCode::JoinRetry => (2, 300),
            BlinkCode::SendError => (4, 300),
            BlinkCode::Setup => (1, 500),
        }
    }
}

/// No LED.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLed;

impl embedded_hal::digital::ErrorType for NoLed {
    type Error = core::convert::Infallible;
}

impl OutputPin for NoLed {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Plays blink codes on an LED from the node's clock.
#[derive(Debug)]
pub struct Blinker<L> {
    led: L,
    code: Option<BlinkCode>,
    /// Remaining half-periods (on and off phases).
    phases: u8,
    next_ms: u32,
    on: bool,
    played: u32,
}

impl<L: OutputPin> Blinker<L> {
    /// Take the LED pin.
    pub fn new(led: L) -> Self {
        Blinker {
            led,
            code: None,
            phases: 0,
            next_ms: 0,
            on: false,
            played: 0,
        }
    }

    /// Start a code (replaces one in progress).
    pub fn play(&mut self, code: BlinkCode, now_ms: u32) {
        let (n, _) = code.pattern();
        self.code = Some(code);
        self.phases = n * 2;
        self.next_ms = now_ms;
        self.played = self.played.wrapping_add(1);
    }

    /// The code playing, if any.
    pub fn playing(&self) -> Option<BlinkCode> {
        self.code
    }

    /// How many codes were started.
    pub fn played(&self) -> u32 {
        self.played
    }

    /// Advance the pattern.
    pub fn update(&mut self, now_ms: u32) {
        let Some(code) = self.code else { return };
        if !crate::node::reached(now_ms, self.next_ms) {
            return;
        }
        let (_, half) = code.pattern();
        if self.phases == 0 {
            let _ = self.led.set_low();
            self.on = false;
            self.code = None;
            return;
        }
        self.on = !self.on;
        let _ = if self.on {
            self.led.set_high()
        } else {
            self.led.set_low()
        };
        self.phases -= 1;
        self.next_ms = now_ms.wrapping_add(u32::from(half));
    }

    /// Give the LED back.
    pub fn release(self) -> L {
        self.led
    }
}
