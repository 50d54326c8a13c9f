//! Exact bytes of every command, in both dialects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use esp_at::Version;
use esp_at::command::basic::FlowControl;
use esp_at::command::sink::encode;
use esp_at::command::tcpip::Transport;
use esp_at::command::wifi::{Encryption, WifiMode};
use esp_at::command::{Basic, CmdError, Command, TcpIp, Wifi};
use esp_at::escape::StrError;
use std::net::Ipv4Addr;

fn bytes(cmd: impl Into<Command<'static>>, v: Version) -> Result<String, CmdError> {
    let mut buf = [0u8; 300];
    let n = encode(&cmd.into(), &v.capabilities(), &mut buf)?;
    Ok(String::from_utf8(buf[..n].to_vec()).unwrap())
}

const V1: Version = Version::new(1, 7, 4);
const V2: Version = Version::new(2, 2, 0);
const V33: Version = Version::new(3, 3, 0);

macro_rules! exact {
    ($($name:ident: $cmd:expr, $v:expr => $expected:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(bytes($cmd, $v).unwrap(), $expected);
        }
    )*};
}

exact! {
    at: Basic::At, V2 => "AT\r\n";
    echo_off: Basic::EchoOff, V2 => "ATE0\r\n";
    echo_on: Basic::EchoOn, V1 => "ATE1\r\n";
    restart: Basic::Restart, V2 => "AT+RST\r\n";
    gmr: Basic::Version, V1 => "AT+GMR\r\n";
    restore: Basic::Restore, V2 => "AT+RESTORE\r\n";
    uart_cur: Basic::UartCur { baud: 115_200, flow: FlowControl::RtsCts }, V2 => "AT+UART_CUR=115200,8,1,0,3\r\n";
    sleep: Basic::Sleep(2), V2 => "AT+SLEEP=2\r\n";
    sysstore: Basic::SysStore(false), V2 => "AT+SYSSTORE=0\r\n";
    syslog: Basic::SysLog(true), V2 => "AT+SYSLOG=1\r\n";
    cwmode_v1: Wifi::SetMode(WifiMode::Station), V1 => "AT+CWMODE_CUR=1\r\n";
    cwmode_v2: Wifi::SetMode(WifiMode::SoftAp), V2 => "AT+CWMODE=2\r\n";
    cwjap_v1: Wifi::Join { ssid: "home", password: "secret123", bssid: None }, V1 => "AT+CWJAP_CUR=\"home\",\"secret123\"\r\n";
    cwjap_v2: Wifi::Join { ssid: "home", password: "secret123", bssid: Some("aa:bb:cc:dd:ee:ff") }, V2 => "AT+CWJAP=\"home\",\"secret123\",\"aa:bb:cc:dd:ee:ff\"\r\n";
    cwjap_escaped: Wifi::Join { ssid: "a,b\"c\\d", password: "p\\a,s\"sword", bssid: None }, V2 => "AT+CWJAP=\"a\\,b\\\"c\\\\d\",\"p\\\\a\\,s\\\"sword\"\r\n";
    cwjap_open: Wifi::Join { ssid: "cafe", password: "", bssid: None }, V2 => "AT+CWJAP=\"cafe\",\"\"\r\n";
    cwjap_query_v1: Wifi::QueryJoin, V1 => "AT+CWJAP_CUR?\r\n";
    cwqap: Wifi::Quit, V2 => "AT+CWQAP\r\n";
    cwlap: Wifi::ListAps, V2 => "AT+CWLAP\r\n";
    cwsap_v1: Wifi::SoftAp { ssid: "Scale-Setup", password: "", channel: 6, encryption: Encryption::Wpa2Psk }, V1 => "AT+CWSAP_CUR=\"Scale-Setup\",\"\",6,0\r\n";
    cwsap_v2: Wifi::SoftAp { ssid: "Scale-Setup", password: "setup-pass", channel: 1, encryption: Encryption::Wpa2Psk }, V2 => "AT+CWSAP=\"Scale-Setup\",\"setup-pass\",1,3\r\n";
    cwdhcp_v1: Wifi::Dhcp { station: true, enable: true }, V1 => "AT+CWDHCP_CUR=1,1\r\n";
    cwdhcp_v2: Wifi::Dhcp { station: true, enable: false }, V2 => "AT+CWDHCP=0,1\r\n";
    cipsta: Wifi::StationIp { ip: Ipv4Addr::new(192, 168, 1, 60), gateway: Ipv4Addr::new(192, 168, 1, 1), netmask: Ipv4Addr::new(255, 255, 255, 0) }, V2 => "AT+CIPSTA=\"192.168.1.60\",\"192.168.1.1\",\"255.255.255.0\"\r\n";
    cipap_v1: Wifi::SoftApIp { ip: Ipv4Addr::new(192, 168, 4, 1), gateway: Ipv4Addr::new(192, 168, 4, 1), netmask: Ipv4Addr::new(255, 255, 255, 0) }, V1 => "AT+CIPAP_CUR=\"192.168.4.1\",\"192.168.4.1\",\"255.255.255.0\"\r\n";
    cwstate_v2: Wifi::QueryState, V2 => "AT+CWSTATE?\r\n";
    cwstate_v1: Wifi::QueryState, V1 => "AT+CIPSTATUS\r\n";
    autoconn: Wifi::AutoConnect(false), V2 => "AT+CWAUTOCONN=0\r\n";
    raw_v2: Command::Raw("AT+CWCOUNTRY?"), V2 => "AT+CWCOUNTRY?\r\n";
    raw_v1_as_written: Command::Raw("AT+CWJAP_DEF?"), V1 => "AT+CWJAP_DEF?\r\n";
    cipmux: TcpIp::Mux(true), V2 => "AT+CIPMUX=1\r\n";
    cipdinfo: TcpIp::RemoteInfo(false), V1 => "AT+CIPDINFO=0\r\n";
    cipstart_tcp: TcpIp::Start { link: Some(0), transport: Transport::Tcp, host: "192.168.1.10", port: 5001, extra: None }, V2 => "AT+CIPSTART=0,\"TCP\",\"192.168.1.10\",5001\r\n";
    cipstart_udp: TcpIp::Start { link: Some(2), transport: Transport::Udp, host: "10.0.0.1", port: 53, extra: Some(1234) }, V2 => "AT+CIPSTART=2,\"UDP\",\"10.0.0.1\",53,1234\r\n";
    cipstart_ssl: TcpIp::Start { link: None, transport: Transport::Ssl, host: "example.com", port: 443, extra: None }, V2 => "AT+CIPSTART=\"SSL\",\"example.com\",443\r\n";
    cipsend: TcpIp::Send { link: Some(1), len: 31 }, V2 => "AT+CIPSEND=1,31\r\n";
    cipclose: TcpIp::Close(Some(4)), V2 => "AT+CIPCLOSE=4\r\n";
    recvmode_v1: TcpIp::RecvMode { passive: true }, V1 => "AT+CIPRECVMODE=1\r\n";
    recvmode_v2: TcpIp::RecvMode { passive: true }, V2 => "AT+CIPRECVMODE=1\r\n";
    recvtype_v33: TcpIp::RecvMode { passive: true }, V33 => "AT+CIPRECVTYPE=5,1\r\n";
    recvlen: TcpIp::RecvLen, V2 => "AT+CIPRECVLEN?\r\n";
    recvdata: TcpIp::RecvData { link: 0, len: 128 }, V1 => "AT+CIPRECVDATA=0,128\r\n";
    domain: TcpIp::Domain("gateway.local"), V2 => "AT+CIPDOMAIN=\"gateway.local\"\r\n";
    server_on: TcpIp::Server { port: Some(333) }, V2 => "AT+CIPSERVER=1,333\r\n";
    server_off: TcpIp::Server { port: None }, V2 => "AT+CIPSERVER=0\r\n";
    cipsto: TcpIp::ServerTimeout(180), V2 => "AT+CIPSTO=180\r\n";
    cifsr: TcpIp::LocalAddress, V2 => "AT+CIFSR\r\n";
    cipstate_v2: TcpIp::LinkState, V2 => "AT+CIPSTATE?\r\n";
    cipstatus_v1: TcpIp::LinkState, V1 => "AT+CIPSTATUS\r\n";
    sslsize_v1: TcpIp::SslSize(4096), V1 => "AT+CIPSSLSIZE=4096\r\n";
    sslconf_v2: TcpIp::SslConfig { link: 0, auth_mode: 2 }, V2 => "AT+CIPSSLCCONF=0,2\r\n";
    sslsni_v2: TcpIp::SslSni { link: 0, name: "example.com" }, V2 => "AT+CIPSSLCSNI=0,\"example.com\"\r\n";
}

#[test]
fn parameters_are_validated() {
    let long = "x".repeat(33);
    let ssid: &'static str = Box::leak(long.into_boxed_str());
    assert_eq!(
        bytes(
            Wifi::Join {
                ssid,
                password: "",
                bssid: None
            },
            V2
        ),
        Err(CmdError::Param(StrError::TooLong { len: 33, max: 32 }))
    );
    assert_eq!(
        bytes(
            Wifi::Join {
                ssid: "ok",
                password: "short",
                bssid: None
            },
            V2
        ),
        Err(CmdError::Param(StrError::TooShort { len: 5, min: 8 }))
    );
    assert_eq!(
        bytes(
            Wifi::Join {
                ssid: "a\r\nAT+RST",
                password: "",
                bssid: None
            },
            V2
        ),
        Err(CmdError::Param(StrError::ControlChar))
    );
    assert_eq!(
        bytes(
            Wifi::Join {
                ssid: "",
                password: "",
                bssid: None
            },
            V2
        ),
        Err(CmdError::Param(StrError::Empty))
    );
    assert_eq!(bytes(Basic::SysStore(true), V1), Err(CmdError::Unsupported));
    assert_eq!(bytes(TcpIp::SslSize(2048), V2), Err(CmdError::Unsupported));
}

#[test]
fn raw_commands_are_checked() {
    assert_eq!(
        bytes(Command::Raw("AT\r\nAT+RST"), V2),
        Err(CmdError::Param(StrError::ControlChar))
    );
    assert_eq!(
        bytes(Command::Raw("AT+X\n"), V2),
        Err(CmdError::Param(StrError::ControlChar))
    );
    assert_eq!(bytes(Command::Raw("+CWLAP"), V2), Err(CmdError::NotAt));
    assert_eq!(bytes(Command::Raw(""), V2), Err(CmdError::NotAt));
    let long: &'static str = Box::leak(format!("AT+{}", "X".repeat(251)).into_boxed_str());
    assert_eq!(bytes(Command::Raw(long), V2).unwrap().len(), 256);
    let longer: &'static str = Box::leak(format!("AT+{}", "X".repeat(252)).into_boxed_str());
    assert_eq!(bytes(Command::Raw(longer), V2), Err(CmdError::TooLong));
}

#[test]
fn worst_case_credentials_fit_the_256_byte_limit() {
    let ssid: &'static str = Box::leak("\"".repeat(32).into_boxed_str());
    let pwd: &'static str = Box::leak(",".repeat(64).into_boxed_str());
    let s = bytes(
        Wifi::Join {
            ssid,
            password: pwd,
            bssid: None,
        },
        V1,
    )
    .unwrap();
    assert_eq!(s.len(), "AT+CWJAP_CUR=".len() + 2 + 64 + 1 + 2 + 128 + 2);
    assert!(s.len() <= 256);
}

#[test]
fn too_small_buffer_is_an_error_not_a_panic() {
    let mut buf = [0u8; 8];
    let caps = V2.capabilities();
    assert_eq!(
        encode(&Wifi::Quit.into(), &caps, &mut buf),
        Err(CmdError::TooLong)
    );
}

#[test]
fn dialect_from_gmr() {
    assert_eq!(
        Version::parse_gmr_line(b"AT version:1.7.4.0(May 11 2020 19:13:04)"),
        Some(Version::new(1, 7, 4))
    );
    assert_eq!(
        Version::parse_gmr_line(b"AT version:2.2.0.0(c6fa6bf - ESP8266 - Jul  2 2021 06:44:05)"),
        Some(Version::new(2, 2, 0))
    );
    assert_eq!(
        Version::parse_gmr_line(b"AT version:4.1.1.0"),
        Some(Version::new(4, 1, 1))
    );
    assert_eq!(Version::parse_gmr_line(b"SDK version:3.0.4"), None);
    assert_eq!(Version::parse_gmr_line(b"AT version:x"), None);
    let c1 = Version::new(1, 7, 4).capabilities();
    assert!(c1.cur_suffix && !c1.sysstore && c1.recvdata_comma_first && c1.ssl_size);
    let c3 = Version::new(3, 3, 0).capabilities();
    assert!(!c3.cur_suffix && c3.recv_type && c3.cwstate && c3.ssl_config);
}
