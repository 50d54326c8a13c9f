//! Whole flows through the real driver and digester against the simulated modem, which opens
//! real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use esp_at::sim::{SimConfig, SimHandle, SimModem, StdDelay};
use esp_at::{Config, Error, EspAt, JoinError, Transport, Version};

const SSID: &str = "home,\"net\"\\1";
const PASS: &str = "pa,ss\"word\\";

fn modem(fw: Version) -> (EspAt<SimModem, StdDelay>, SimHandle) {
    let sim = SimModem::new(
        SimConfig::default()
            .with_firmware(fw)
            .with_network(SSID, PASS),
    );
    let h = sim.handle();
    let cfg = Config::default()
        .with_command_timeout_ms(500)
        .with_busy_backoff_ms(20);
    (EspAt::new(sim, StdDelay, cfg), h)
}

/// Poll `recv` until something arrives (at most about a second).
fn recv_some(esp: &mut EspAt<SimModem, StdDelay>, link: esp_at::Link, buf: &mut [u8]) -> usize {
    for _ in 0..200 {
        let n = esp.recv(link, buf).unwrap();
        if n > 0 {
            return n;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    0
}

fn server() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn init_detects_each_dialect() {
    for (fw, recv_cmd) in [
        (Version::new(1, 7, 4), "AT+CIPRECVMODE=1"),
        (Version::new(2, 2, 0), "AT+CIPRECVMODE=1"),
        (Version::new(3, 3, 0), "AT+CIPRECVTYPE=5,1"),
    ] {
        let (mut esp, h) = modem(fw);
        assert_eq!(esp.init().unwrap(), fw);
        assert!(!h.echo(), "ATE0 sent");
        let cmds = h.commands();
        assert!(cmds.contains(&recv_cmd.to_string()), "{cmds:?}");
        assert_eq!(cmds.contains(&"AT+SYSSTORE=0".to_string()), fw.major >= 2);
    }
}

#[test]
fn join_with_special_characters_connect_send_receive_close() {
    for fw in [Version::new(1, 7, 4), Version::new(2, 2, 0)] {
        let (mut esp, h) = modem(fw);
        esp.join(SSID, PASS).unwrap();
        assert_eq!(h.joined().as_deref(), Some(SSID));
        assert!(esp.wifi_state().got_ip);
        assert_eq!(
            esp.local_ip().unwrap(),
            std::net::Ipv4Addr::new(192, 168, 1, 50)
        );

        let (listener, port) = server();
        let link = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        esp.send(link, b"Weight:123.45,Scale.Arduino\r\n").unwrap();
        let mut got = [0u8; 29];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"Weight:123.45,Scale.Arduino\r\n");

        // passive receive, payload that looks like protocol
        peer.write_all(b"201\r\nOK\r\n").unwrap();
        let mut buf = [0u8; 64];
        let n = recv_some(&mut esp, link, &mut buf);
        assert_eq!(&buf[..n], b"201\r\nOK\r\n");
        esp.close(link).unwrap();
        assert!(!esp.is_open(link));
        assert_eq!(esp.send(link, b"x"), Err(Error::LinkClosed));
    }
}

#[test]
fn wrong_password_and_missing_ap_are_typed() {
    for fw in [Version::new(1, 7, 4), Version::new(2, 2, 0)] {
        let (mut esp, _h) = modem(fw);
        assert_eq!(
            esp.join(SSID, "wrong-password"),
            Err(Error::Join(JoinError::WrongPassword))
        );
        assert_eq!(
            esp.join("other", PASS),
            Err(Error::Join(JoinError::ApNotFound))
        );
        assert!(!esp.wifi_state().got_ip);
        esp.join(SSID, PASS).unwrap();
    }
}

#[test]
fn invalid_credentials_never_reach_the_modem() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.init().unwrap();
    let before = h.commands().len();
    assert!(matches!(esp.join("net", "short"), Err(Error::Command(_))));
    assert!(matches!(
        esp.join("net\r\nAT+RESTORE", "password1"),
        Err(Error::Command(_))
    ));
    assert_eq!(h.commands().len(), before);
}

#[test]
fn busy_is_retried() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.init().unwrap();
    h.busy(2);
    esp.join(SSID, PASS).unwrap();
    assert!(esp.stats().busy >= 2);
    h.busy(100);
    assert_eq!(esp.leave(), Err(Error::Busy));
}

#[test]
fn reboot_invalidates_links_and_reinitialises() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    let (listener, port) = server();
    let old = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let _peer = listener.accept().unwrap();
    let boots = esp.stats().reboots;
    h.reboot();
    esp.poll().unwrap();
    assert!(!esp.is_open(old), "stale handle reports closed");
    assert_eq!(esp.stats().reboots, boots + 1);
    assert!(!h.echo(), "configuration re-applied");
    // the same id is reused by a new link, the old handle still cannot reach it
    esp.join(SSID, PASS).unwrap();
    let new = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let _peer2 = listener.accept().unwrap();
    assert_eq!(new.id(), old.id());
    assert_eq!(esp.send(old, b"x"), Err(Error::LinkClosed));
    esp.send(new, b"y").unwrap();
}

#[test]
fn reboots_count_only_restarts_after_the_first_init() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    // the module's power-up `ready` is waiting in the UART
    esp.init().unwrap();
    assert_eq!(esp.stats().reboots, 0, "the power-up ready is not a reboot");
    esp.restart().unwrap();
    assert_eq!(esp.stats().reboots, 1, "an asked-for restart counts");
    h.reboot();
    esp.poll().unwrap();
    assert_eq!(esp.stats().reboots, 2, "an unplanned reboot counts");
    assert_eq!(h.reboots(), 2, "the simulated module restarted twice");
}

#[test]
fn poll_initialises_a_module_that_has_just_started() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    assert!(h.echo());
    esp.poll().unwrap();
    assert!(!h.echo(), "init ran after the power-up ready");
    assert_eq!(esp.stats().reboots, 0);
}

#[test]
fn reboot_in_the_middle_of_a_send() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    let (listener, port) = server();
    let link = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let _peer = listener.accept().unwrap();
    h.reboot_during("AT+CIPSEND");
    assert_eq!(esp.send(link, b"Weight:1,S\r\n"), Err(Error::Rebooted));
    assert!(!esp.is_open(link));
    assert_eq!(h.reboots(), 1);
    esp.join(SSID, PASS).unwrap();
}

#[test]
fn reboot_in_the_middle_of_a_command() {
    let (mut esp, h) = modem(Version::new(1, 7, 4));
    esp.init().unwrap();
    h.reboot_during("AT+CWJAP");
    assert_eq!(esp.join(SSID, PASS), Err(Error::Rebooted));
    esp.join(SSID, PASS).unwrap();
}

#[test]
fn peer_close_and_send_fail() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    let (listener, port) = server();
    let link = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let (peer, _) = listener.accept().unwrap();
    h.send_fail(1);
    assert_eq!(esp.send(link, b"abc"), Err(Error::SendFailed));
    esp.send(link, b"abc").unwrap();
    drop(peer);
    for _ in 0..100 {
        esp.poll().unwrap();
        if !esp.is_open(link) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!esp.is_open(link));
    assert_eq!(esp.send(link, b"abc"), Err(Error::LinkClosed));
}

#[test]
fn wifi_drop_closes_links() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    let (listener, port) = server();
    let link = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let _peer = listener.accept().unwrap();
    h.drop_wifi();
    esp.poll().unwrap();
    assert!(!esp.wifi_state().connected);
    assert!(!esp.is_open(link));
    assert!(matches!(
        esp.connect(Transport::Tcp, "127.0.0.1", port),
        Err(Error::Failed)
    ));
}

#[test]
fn garbled_and_injected_bytes_are_survived() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.init().unwrap();
    h.inject(b"\xff\xfe\x00garbage\r\n+STA_CONNECTED:\"aa\"\r\nWIFI DISCONNECT\r\n");
    esp.join(SSID, PASS).unwrap();
    h.garble(4);
    // the answer to this command is destroyed: a timeout, not a wrong result
    let r = esp.local_ip();
    assert!(
        matches!(r, Err(Error::Timeout) | Err(Error::Protocol)),
        "{r:?}"
    );
    assert_eq!(
        esp.local_ip().unwrap(),
        std::net::Ipv4Addr::new(192, 168, 1, 50)
    );
    assert!(esp.stats().noise_bytes > 0);
}

#[test]
fn udp_and_dns() {
    let (mut esp, _h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    assert_eq!(
        esp.resolve("localhost").unwrap(),
        std::net::Ipv4Addr::LOCALHOST
    );
    assert_eq!(esp.resolve("no.such.host"), Err(Error::Dns));
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let link = esp.connect(Transport::Udp, "127.0.0.1", port).unwrap();
    esp.send(link, b"ping").unwrap();
    let mut buf = [0u8; 8];
    let (n, from) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    sock.send_to(b"pong", from).unwrap();
    let mut got = [0u8; 8];
    let n = recv_some(&mut esp, link, &mut got);
    assert_eq!(&got[..n], b"pong");
}

#[test]
fn soft_ap_server_accepts_a_client() {
    let (mut esp, h) = modem(Version::new(2, 2, 0));
    esp.start_soft_ap("Scale-Setup", "", 6).unwrap();
    assert_eq!(h.soft_ap().as_deref(), Some("Scale-Setup"));
    esp.server(Some(0)).unwrap();
    let addr = h.server_addr().unwrap();
    let mut phone = std::net::TcpStream::connect(addr).unwrap();
    let mut link = None;
    for _ in 0..200 {
        esp.poll().unwrap();
        link = esp.accept();
        if link.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let link = link.unwrap();
    phone.write_all(b"ssid=home\n").unwrap();
    let mut buf = [0u8; 32];
    let n = recv_some(&mut esp, link, &mut buf);
    assert_eq!(&buf[..n], b"ssid=home\n");
    esp.send(link, b"OK\n").unwrap();
    let mut r = [0u8; 3];
    phone.read_exact(&mut r).unwrap();
    assert_eq!(&r, b"OK\n");
}

#[test]
fn silent_modem_times_out() {
    let sim = SimModem::new(SimConfig::default());
    let h = sim.handle();
    h.drop_bytes(u32::MAX);
    let mut esp = EspAt::new(sim, StdDelay, Config::default().with_command_timeout_ms(50));
    let t = std::time::Instant::now();
    assert_eq!(esp.init(), Err(Error::Timeout));
    // it gives up instead of hanging: its retries take well under a second; the bound leaves
    // room for a loaded machine, where every sleep of the delay overshoots
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn sync_pending_reads_recvlen() {
    let (mut esp, _h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    let (listener, port) = server();
    let link = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.write_all(b"12345").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let p = esp.sync_pending().unwrap();
    assert_eq!(p[usize::from(link.id())], 5);
}

#[test]
fn data_sent_before_the_peer_closed_is_still_read() {
    let (mut esp, _h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    let (listener, port) = server();
    let link = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.write_all(b"HTTP/1.0 200 OK\r\n\r\nbye").unwrap();
    drop(peer);
    let mut got = Vec::new();
    let mut buf = [0u8; 8];
    for _ in 0..400 {
        match esp.recv(link, &mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Error::LinkClosed) => break,
            Err(e) => panic!("{e:?}"),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(got, b"HTTP/1.0 200 OK\r\n\r\nbye");
    assert!(!esp.is_open(link));
    // the slot is reused afterwards
    let again = esp.connect(Transport::Tcp, "127.0.0.1", port).unwrap();
    let _peer = listener.accept().unwrap();
    esp.send(again, b"x").unwrap();
}

#[test]
fn embedded_nal_tcp_udp_and_dns() {
    use embedded_nal::{AddrType, Dns, TcpClientStack, UdpClientStack};
    let (mut esp, _h) = modem(Version::new(2, 2, 0));
    esp.join(SSID, PASS).unwrap();
    assert_eq!(
        nb::block!(esp.get_host_by_name("localhost", AddrType::IPv4)).unwrap(),
        std::net::IpAddr::from([127, 0, 0, 1])
    );
    // TCP
    let (listener, _) = server();
    let mut tcp = TcpClientStack::socket(&mut esp).unwrap();
    TcpClientStack::connect(&mut esp, &mut tcp, listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    assert_eq!(
        TcpClientStack::send(&mut esp, &mut tcp, b"hello").unwrap(),
        5
    );
    let mut got = [0u8; 5];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    let mut buf = [0u8; 8];
    assert!(matches!(
        TcpClientStack::receive(&mut esp, &mut tcp, &mut buf),
        Err(nb::Error::WouldBlock)
    ));
    peer.write_all(b"world").unwrap();
    let n = nb::block!(TcpClientStack::receive(&mut esp, &mut tcp, &mut buf)).unwrap();
    assert_eq!(&buf[..n], b"world");
    TcpClientStack::close(&mut esp, tcp).unwrap();
    // UDP
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let remote = sock.local_addr().unwrap();
    let mut udp = UdpClientStack::socket(&mut esp).unwrap();
    UdpClientStack::connect(&mut esp, &mut udp, remote).unwrap();
    nb::block!(UdpClientStack::send(&mut esp, &mut udp, b"ntp?")).unwrap();
    let mut d = [0u8; 8];
    let (n, from) = sock.recv_from(&mut d).unwrap();
    assert_eq!(&d[..n], b"ntp?");
    sock.send_to(b"time", from).unwrap();
    let (n, src) = nb::block!(UdpClientStack::receive(&mut esp, &mut udp, &mut buf)).unwrap();
    assert_eq!((&buf[..n], src), (&b"time"[..], remote));
    let too_big = vec![0u8; 3000];
    assert!(matches!(
        UdpClientStack::send(&mut esp, &mut udp, &too_big),
        Err(nb::Error::Other(Error::Command(_)))
    ));
    UdpClientStack::close(&mut esp, udp).unwrap();
}
