//! The node end to end on its async loop (`Node::step` over esp-at's async front end): the same
//! scenarios as `node.rs`, so both loops are held to one behaviour.
#![cfg(feature = "async")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

type Mode = common::Async;

include!("scenarios/node.rs");

mod executor {
    use std::cell::{Cell, RefCell};
    use std::future::Future;
    use std::pin::pin;
    use std::task::Poll;
    use std::time::{Duration, Instant};

    use esp_at::sim::{SimConfig, StdDelay};
    use scale_node::loopback::ArticleGateway;
    use scale_node::{Format, RamStorage, Settings};

    use super::common::*;

    /// The node's async loop and a heartbeat task share one thread, as two embassy tasks share
    /// one executor: while the modem takes 800 ms to join (and then connects and sends), the
    /// heartbeat keeps its 5 ms period. A loop that blocked on the modem would hold the thread
    /// for the whole join.
    #[test]
    fn other_tasks_run_while_the_modem_joins_connects_and_sends() {
        let gw = ArticleGateway::start(0).unwrap();
        let join_delay = Duration::from_millis(800);
        let mut r = rig_on::<16, _>(
            Some(config(gw.addr().port(), Format::Extended)),
            Settings::default(),
            RamStorage::<{ scale_node::config::CONFIG_MAX }>::default(),
            SimConfig::default().with_join_delay(join_delay),
        );
        let ticks: RefCell<Vec<Instant>> = RefCell::new(Vec::new());
        let stop = Cell::new(false);
        let start = Instant::now();
        let mut delay = StdDelay;
        {
            let node = pin!(r.node.run(&mut delay, 2));
            let heartbeat = pin!(async {
                while !stop.get() {
                    ticks.borrow_mut().push(Instant::now());
                    embedded_hal_async::delay::DelayNs::delay_ms(&mut StdDelay, 5).await;
                }
            });
            let watch = pin!(async {
                // done when three readings are in and acknowledged at the gateway
                std::future::poll_fn(|_| {
                    if gw.messages().len() >= 3 || start.elapsed() > Duration::from_secs(30) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                stop.set(true);
            });
            let (mut node, mut heartbeat, mut watch) = (node, heartbeat, watch);
            let mut done = (false, false);
            block_on(std::future::poll_fn(|cx| {
                let _ = node.as_mut().poll(cx);
                if !done.0 {
                    done.0 = watch.as_mut().poll(cx).is_ready();
                }
                if !done.1 {
                    done.1 = heartbeat.as_mut().poll(cx).is_ready();
                }
                if done.0 && done.1 {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
        }
        let elapsed = start.elapsed();
        assert!(
            gw.messages().len() >= 3,
            "readings delivered: {:?}",
            gw.messages()
        );
        assert!(r.modem.joined().is_some(), "the modem joined");
        assert!(elapsed >= join_delay, "the join took its time: {elapsed:?}");
        let ticks = ticks.into_inner();
        let worst = ticks
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(elapsed);
        println!(
            "{} heartbeats in {elapsed:?}, longest gap {worst:?} (join: {join_delay:?})",
            ticks.len()
        );
        // the heartbeat's gap is its period plus one node step, never the modem's wait
        assert!(
            worst < join_delay / 2,
            "the heartbeat waited {worst:?} while the modem joined"
        );
        assert!(ticks.len() as u128 >= join_delay.as_millis() / 5 / 2);
    }
}
