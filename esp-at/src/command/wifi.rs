//! Wi-Fi AT commands (AT manual chapter "Wi-Fi AT Commands"). On NonOS 1.x the driver uses
//! the `_CUR` forms, so nothing is written to the module's flash behind the user's back.

use super::{CmdError, Writer};
use crate::dialect::Capabilities;
use crate::escape::{check_password, check_ssid, check_text};
use core::net::Ipv4Addr;

/// `AT+CWMODE` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WifiMode {
    /// Radio off (ESP-AT 2.x+).
    Off = 0,
    /// Station: join an access point.
    Station = 1,
    /// SoftAP: be an access point (the setup mode).
    SoftAp = 2,
    /// Both at once.
    StationSoftAp = 3,
}

/// SoftAP encryption (`<ecn>` of `AT+CWSAP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Encryption {
    /// Open network (empty password).
    Open = 0,
    /// WPA-PSK.
    WpaPsk = 2,
    /// WPA2-PSK.
    Wpa2Psk = 3,
    /// WPA/WPA2-PSK.
    WpaWpa2Psk = 4,
}

/// Wi-Fi commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Wifi<'a> {
    /// `AT+CWMODE[_CUR]=<mode>`.
    SetMode(WifiMode),
    /// `AT+CWJAP[_CUR]="<ssid>","<pwd>"[,"<bssid>"]`: join an access point.
    Join {
        /// SSID (≤ 32 bytes).
        ssid: &'a str,
        /// Password (empty or 8–64 bytes).
        password: &'a str,
        /// Lock to one access point (`"aa:bb:cc:dd:ee:ff"`).
        bssid: Option<&'a str>,
    },
    /// `AT+CWJAP?` (`AT+CWJAP_CUR?`): the access point joined.
    QueryJoin,
    /// `AT+CWQAP`: leave the access point.
    Quit,
    /// `AT+CWLAP`: list access points.
    ListAps,
    /// `AT+CWSAP[_CUR]="<ssid>","<pwd>",<chl>,<ecn>`: configure the SoftAP.
    SoftAp {
        /// SSID (≤ 32 bytes).
        ssid: &'a str,
        /// Password (empty for open, else 8–64 bytes).
        password: &'a str,
        /// Channel 1–13.
        channel: u8,
        /// Encryption.
        encryption: Encryption,
    },
    /// `AT+CWDHCP[_CUR]=<op/mode>,<en>`: DHCP client of the station (`station`) or server of
    /// the SoftAP.
    Dhcp {
        /// `true`: station; `false`: SoftAP.
        station: bool,
        /// Enable or disable.
        enable: bool,
    },
    /// `AT+CIPSTA[_CUR]="<ip>","<gateway>","<netmask>"`: static station address.
    StationIp {
        /// Address.
        ip: Ipv4Addr,
        /// Gateway.
        gateway: Ipv4Addr,
        /// Netmask.
        netmask: Ipv4Addr,
    },
    /// `AT+CIPAP[_CUR]="<ip>","<gateway>","<netmask>"`: SoftAP address.
    SoftApIp {
        /// Address.
        ip: Ipv4Addr,
        /// Gateway.
        gateway: Ipv4Addr,
        /// Netmask.
        netmask: Ipv4Addr,
    },
    /// `AT+CWSTATE?` (2.1+), or `AT+CIPSTATUS` on older firmware.
    QueryState,
    /// `AT+CWAUTOCONN=<0|1>`: rejoin the stored access point at boot.
    AutoConnect(bool),
}

fn ip(w: &mut Writer<'_>, a: Ipv4Addr) {
    w.byte(b'"');
    for (i, o) in a.octets().iter().enumerate() {
        if i > 0 {
            w.byte(b'.');
        }
        w.num(u32::from(*o));
    }
    w.byte(b'"')
}

impl Wifi<'_> {
    #[inline(always)] // see `Command::encode_into`
    pub(crate) fn encode(&self, w: &mut Writer<'_>, caps: &Capabilities) -> Result<(), CmdError> {
        match *self {
            Wifi::SetMode(m) => {
                w.name_cur(rom!(b"CWMODE"), caps);
                w.byte(b'=');
                w.num(m as u32)
            }
            Wifi::Join {
                ssid,
                password,
                bssid,
            } => {
                check_ssid(ssid)?;
                check_password(password)?;
                w.name_cur(rom!(b"CWJAP"), caps);
                w.byte(b'=');
                w.quoted(ssid);
                w.byte(b',');
                w.quoted(password);
                if let Some(b) = bssid {
                    check_text(b, 17)?;
                    w.byte(b',');
                    w.quoted(b);
                }
            }
            Wifi::QueryJoin => {
                w.name_cur(rom!(b"CWJAP"), caps);
                w.byte(b'?')
            }
            Wifi::Quit => w.text(rom!(b"AT+CWQAP")),
            Wifi::ListAps => w.text(rom!(b"AT+CWLAP")),
            Wifi::SoftAp {
                ssid,
                password,
                channel,
                encryption,
            } => {
                check_ssid(ssid)?;
                check_password(password)?;
                let ecn = if password.is_empty() {
                    crate::command::wifi::Encryption::Open
                } else {
                    encryption
                };
                w.name_cur(rom!(b"CWSAP"), caps);
                w.byte(b'=');
                w.quoted(ssid);
                w.byte(b',');
                w.quoted(password);
                w.byte(b',');
                w.num(u32::from(channel.clamp(1, 13)));
                w.byte(b',');
                w.num(ecn as u32)
            }
            Wifi::Dhcp { station, enable } => {
                w.name_cur(rom!(b"CWDHCP"), caps);
                w.byte(b'=');
                if caps.cur_suffix {
                    // 1.x: <mode>,<en> with mode 0 = SoftAP, 1 = station
                    w.num(u32::from(station));
                    w.byte(b',');
                    w.num(u32::from(enable))
                } else {
                    // 2.x: <operate>,<mode> with mode bit 0 = station, bit 1 = SoftAP
                    w.num(u32::from(enable));
                    w.byte(b',');
                    w.num(if station { 1 } else { 2 })
                }
            }
            Wifi::StationIp {
                ip: a,
                gateway,
                netmask,
            }
            | Wifi::SoftApIp {
                ip: a,
                gateway,
                netmask,
            } => {
                let name = if matches!(self, Wifi::StationIp { .. }) {
                    rom!(b"CIPSTA")
                } else {
                    rom!(b"CIPAP")
                };
                w.name_cur(name, caps);
                w.byte(b'=');
                ip(w, a);
                w.byte(b',');
                ip(w, gateway);
                w.byte(b',');
                ip(w, netmask)
            }
            Wifi::QueryState => {
                if caps.cwstate {
                    w.text(rom!(b"AT+CWSTATE?"))
                } else {
                    w.text(rom!(b"AT+CIPSTATUS"))
                }
            }
            Wifi::AutoConnect(on) => w.text(if on {
                rom!(b"AT+CWAUTOCONN=1")
            } else {
                rom!(b"AT+CWAUTOCONN=0")
            }),
        }
        Ok(())
    }
}
