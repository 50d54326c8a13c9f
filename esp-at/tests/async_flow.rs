//! The async front end on the simulated modem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::io::Read;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use esp_at::asynch::EspAt;
use esp_at::sim::{SimConfig, SimModem, StdDelay};
use esp_at::{Config, Error, JoinError, Transport, Version};

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn block_on<F: Future>(f: F) -> F::Output {
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

#[test]
fn async_join_connect_send() {
    let sim = SimModem::new(SimConfig {
        firmware: Version::new(2, 2, 0),
        network: Some(("net".into(), "password1".into())),
        ..SimConfig::default()
    });
    let mut esp: EspAt<_, _> = EspAt::new(sim, StdDelay, Config::default());
    block_on(async {
        assert_eq!(
            esp.join("net", "bad-password").await,
            Err(Error::Join(JoinError::WrongPassword))
        );
        esp.join("net", "password1").await.unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let link = esp
            .connect(Transport::Tcp, "127.0.0.1", port)
            .await
            .unwrap();
        let (mut peer, _) = l.accept().unwrap();
        esp.send(link, b"Weight:1.00,S\r\n").await.unwrap();
        let mut got = [0u8; 15];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"Weight:1.00,S\r\n");
    });
}
