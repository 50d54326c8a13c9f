//! What several test files share.
#![allow(dead_code)]

use std::future::Future;

use esp_at::digest::{Event, RemoteInfo, parse_full, parse_with};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Poll `f` to completion on this thread (the simulated modem and the scripted UARTs never
/// need a wake-up: they are polled again).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

/// Feed `stream` through a buffer of `cap` bytes in pieces of the sizes in `cuts` (repeated),
/// parsing as a driver does (a full buffer that holds nothing complete is discarded), and hand
/// every event but `Event::None` to `on`.
pub fn feed(
    stream: &[u8],
    cuts: &[usize],
    cap: usize,
    info: RemoteInfo,
    mut on: impl FnMut(Event<'_>),
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    let mut cut = cuts.iter().cycle();
    loop {
        loop {
            let (ev, n) = parse_with(&buf, info);
            let (ev, n) = if n == 0 && buf.len() >= cap {
                parse_full(&buf)
            } else {
                (ev, n)
            };
            if n == 0 {
                break;
            }
            if !matches!(ev, Event::None) {
                on(ev);
            }
            buf.drain(..n);
        }
        if pos >= stream.len() {
            return;
        }
        let step = cut
            .next()
            .copied()
            .unwrap_or(1)
            .max(1)
            .min(stream.len() - pos)
            .min(cap - buf.len());
        buf.extend_from_slice(&stream[pos..pos + step]);
        pos += step;
    }
}
