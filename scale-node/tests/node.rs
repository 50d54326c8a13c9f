//! The node end to end on its blocking loop (`Node::poll` over the blocking esp-at driver):
//! real drivers on the HX711 and ESP8266 simulators, real TCP to a gateway on 127.0.0.1 that
//! behaves like the article's. `node_async.rs` runs the same scenarios on the async loop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

type Mode = common::Blocking;

include!("scenarios/node.rs");
