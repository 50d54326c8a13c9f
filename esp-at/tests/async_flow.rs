//! The async front end on the simulated modem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;

use common::block_on;
use esp_at::asynch::EspAt;
use esp_at::sim::{SimConfig, SimModem, StdDelay};
use esp_at::{Config, Error, JoinError, Transport, Version};

#[test]
fn async_join_connect_send() {
    let sim = SimModem::new(
        SimConfig::default()
            .with_firmware(Version::new(2, 2, 0))
            .with_network("net", "password1"),
    );
    let mut esp = EspAt::new(sim, StdDelay, Config::default());
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

#[test]
fn embedded_nal_async_connect_write_read_and_close_on_drop() {
    use embedded_io_async::{Read as _, Write as _};
    use embedded_nal_async::{AddrType, Dns, TcpConnect};
    use esp_at::nal_async::SharedEspAt;
    use std::io::Write as _;

    let sim = SimModem::new(
        SimConfig::default()
            .with_firmware(Version::new(2, 2, 0))
            .with_network("net", "password1"),
    );
    let handle = sim.handle();
    let esp = EspAt::new(sim, StdDelay, Config::default());
    let stack = SharedEspAt::new(esp);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    block_on(async {
        stack.lock().await.join("net", "password1").await.unwrap();
        assert_eq!(
            stack
                .get_host_by_name("localhost", AddrType::IPv4)
                .await
                .unwrap(),
            std::net::IpAddr::from([127, 0, 0, 1])
        );
        let mut conn = stack.connect(addr).await.unwrap();
        let (mut peer, _) = l.accept().unwrap();
        conn.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut got = [0u8; 18];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"GET / HTTP/1.0\r\n\r\n");
        peer.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello").unwrap();
        drop(peer);
        let mut body = Vec::new();
        let mut buf = [0u8; 8];
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        assert_eq!(body, b"HTTP/1.0 200 OK\r\n\r\nhello");
        // a second connection; dropping it closes its link before the next command
        let conn2 = stack.connect(addr).await.unwrap();
        let _ = l.accept().unwrap();
        drop(conn2);
        drop(conn);
        stack.lock().await.local_ip().await.unwrap();
        let guard = stack.lock().await;
        assert_eq!(format!("{stack:?}"), "SharedEspAt(<locked>)");
        drop(guard);
    });
    let shown = format!("{stack:?}");
    assert!(
        shown.starts_with("SharedEspAt(EspAt { config: Config {"),
        "{shown}"
    );
    let cmds = handle.commands();
    assert!(
        cmds.iter().any(|c| c.starts_with("AT+CIPCLOSE=")),
        "{cmds:?}"
    );
}

#[test]
fn embedded_nal_async_udp_round_trip_and_typed_refusals() {
    use embedded_nal_async::{ConnectedUdp, UdpStack};
    use esp_at::command::CmdError;
    use esp_at::nal_async::SharedEspAt;

    let sim = SimModem::new(
        SimConfig::default()
            .with_firmware(Version::new(2, 2, 0))
            .with_network("net", "password1"),
    );
    let handle = sim.handle();
    let stack = SharedEspAt::new(EspAt::new(sim, StdDelay, Config::default()));
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let remote = server.local_addr().unwrap();
    block_on(async {
        stack.lock().await.join("net", "password1").await.unwrap();
        let (local, mut sock) = (&stack).connect(remote).await.unwrap();
        assert_eq!(
            local,
            "192.168.1.50:0".parse().unwrap(),
            "the modem's address"
        );
        sock.send(b"time?").await.unwrap();
        let mut got = [0u8; 16];
        let (n, from) = server.recv_from(&mut got).unwrap();
        assert_eq!(&got[..n], b"time?");
        server.send_to(b"12:00", from).unwrap();
        let mut buf = [0u8; 16];
        let n = sock.receive_into(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"12:00");
        // a datagram is never split
        let big = vec![0u8; 2049];
        assert_eq!(
            sock.send(&big).await,
            Err(Error::Command(CmdError::TooLong))
        );
        // unbound sockets and IPv6 are refused with a type, not a panic
        assert!(matches!(
            (&stack).bind_single("0.0.0.0:5000".parse().unwrap()).await,
            Err(Error::Command(CmdError::Unsupported))
        ));
        assert!(matches!(
            (&stack)
                .bind_multiple("0.0.0.0:5000".parse().unwrap())
                .await,
            Err(Error::Command(CmdError::Unsupported))
        ));
        assert!(matches!(
            (&stack).connect("[::1]:123".parse().unwrap()).await,
            Err(Error::Command(CmdError::Unsupported))
        ));
        drop(sock);
        stack.lock().await.local_ip().await.unwrap();
    });
    let cmds = handle.commands();
    assert!(cmds.iter().any(|c| c.contains("\"UDP\"")), "{cmds:?}");
    assert!(
        cmds.iter().any(|c| c.starts_with("AT+CIPCLOSE=")),
        "{cmds:?}"
    );
}
