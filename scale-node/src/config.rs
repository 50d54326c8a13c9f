//! The node's configuration: what the user provisions (never compiled in), its persistent
//! form, and the setup-mode line protocol that edits it.

use esp_at::rom::Rom;
use heapless::String;
use hx711::Calibration;
use hx711::calibration::crc16;

use crate::fmt::{parse_centi, parse_i32, parse_u32};
use crate::telemetry::Format;

/// Bytes reserved for the stored configuration.
pub const CONFIG_MAX: usize = 256;
const MAGIC: [u8; 2] = *b"SN";
const VERSION: u8 = 1;

/// Everything the node needs to run.
// In declaration order (`repr(C)`), numbers first and strings last: an AVR reaches the first 64
// bytes of a structure with one instruction and pays three more beyond them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(C)]
pub struct NodeConfig {
    /// Gateway TCP port (the article's gateway listens on 5001).
    pub port: u16,
    /// Time between readings, ms.
    pub interval_ms: u32,
    /// Samples per reading (1–32).
    pub samples: u8,
    /// `false` until a calibration was provisioned: the node tares at boot.
    pub calibrated: bool,
    /// Line format.
    pub format: Format,
    /// Raw code → centigrams.
    pub calibration: Calibration,
    /// Weight of the empty container, centigrams.
    pub container_cg: i32,
    /// Weight of the full container, centigrams (0: no "amount left" readings).
    pub full_cg: i32,
    /// Low-stock threshold, hundredths of a percent (2000 = 20 %; 0: off).
    pub low_centipct: i32,
    /// Volume of a full container in millilitres, for `Volume` readings (0: off).
    pub full_ml: u32,
    /// Wi-Fi network.
    pub ssid: String<32>,
    /// Sensor id sent with every line (`Scale.Arduino` in the article).
    pub sensor_id: String<32>,
    /// Wi-Fi password (empty for an open network).
    pub password: String<64>,
    /// Gateway host name or address.
    pub host: String<64>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            ssid: String::new(),
            password: String::new(),
            host: String::new(),
            port: 5001,
            sensor_id: String::new(),
            interval_ms: 5_000,
            samples: 10,
            calibration: Calibration::default(),
            calibrated: false,
            container_cg: 0,
            full_cg: 0,
            low_centipct: 0,
            full_ml: 0,
            format: Format::Extended,
        }
    }
}

/// Why stored bytes are not a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LoadError {
    /// Nothing stored (erased memory, other data).
    Empty,
    /// A newer format.
    Version,
    /// Torn or corrupt.
    Crc,
    /// Structurally invalid.
    Invalid,
}

struct W<'a> {
    buf: &'a mut [u8; CONFIG_MAX],
    len: usize,
}

impl W<'_> {
    fn put(&mut self, b: &[u8]) {
        for &x in b {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = x;
            }
            self.len += 1;
        }
    }
    fn string(&mut self, s: &str) {
        self.put(&[s.len() as u8]);
        self.put(s.as_bytes());
    }
}

struct R<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], LoadError> {
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or(LoadError::Invalid)?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, LoadError> {
        self.take(1)?.first().copied().ok_or(LoadError::Invalid)
    }
    fn u16(&mut self) -> Result<u16, LoadError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, LoadError> {
        let b = self.take(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string_into<const N: usize>(&mut self, dst: &mut String<N>) -> Result<(), LoadError> {
        let n = usize::from(self.u8()?);
        let bytes = self.take(n)?;
        let s = esp_at::escape::utf8(bytes).ok_or(LoadError::Invalid)?;
        dst.clear();
        dst.push_str(s).map_err(|_| LoadError::Invalid)
    }
}

impl NodeConfig {
    /// Serialize: magic, version, length, fields, CRC-16.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn to_bytes(&self, buf: &mut [u8; CONFIG_MAX]) -> usize {
        let mut w = W { buf, len: 0 };
        w.put(&MAGIC);
        w.put(&[VERSION, 0]);
        w.string(&self.ssid);
        w.string(&self.password);
        w.string(&self.host);
        w.put(&self.port.to_le_bytes());
        w.string(&self.sensor_id);
        w.put(&self.interval_ms.to_le_bytes());
        w.put(&[
            self.samples,
            u8::from(self.calibrated),
            matches!(self.format, Format::Extended) as u8,
        ]);
        w.put(&self.calibration.to_bytes());
        w.put(&self.container_cg.to_le_bytes());
        w.put(&self.full_cg.to_le_bytes());
        w.put(&self.low_centipct.to_le_bytes());
        w.put(&self.full_ml.to_le_bytes());
        let len = w.len;
        if let Some(l) = w.buf.get_mut(3) {
            *l = (len - 4) as u8;
        }
        let crc = crc16(w.buf.get(..len).unwrap_or(&[]));
        w.put(&crc.to_le_bytes());
        w.len
    }

    /// Parse what [`to_bytes`](Self::to_bytes) wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<NodeConfig, LoadError> {
        let mut cfg = NodeConfig::default();
        cfg.load(bytes)?;
        Ok(cfg)
    }

    /// Check the framing of what [`to_bytes`](Self::to_bytes) wrote (magic, version, length,
    /// CRC) without reading the fields; returns the body.
    pub fn check_bytes(bytes: &[u8]) -> Result<&[u8], LoadError> {
        if bytes.get(..2) != Some(&MAGIC[..]) {
            return Err(LoadError::Empty);
        }
        if bytes.get(2) != Some(&VERSION) {
            return Err(LoadError::Version);
        }
        let body_len = usize::from(*bytes.get(3).ok_or(LoadError::Invalid)?) + 4;
        let body = bytes.get(..body_len).ok_or(LoadError::Invalid)?;
        let crc = bytes
            .get(body_len..body_len + 2)
            .ok_or(LoadError::Invalid)?;
        if crc16(body).to_le_bytes() != [crc[0], crc[1]] {
            return Err(LoadError::Crc);
        }
        Ok(body)
    }

    /// Replace this configuration, in place, with what [`to_bytes`](Self::to_bytes) wrote.
    /// Bytes that fail [`check_bytes`](Self::check_bytes) leave it as it was; fields that do
    /// not validate despite a good CRC leave it at the defaults.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        let body = Self::check_bytes(bytes)?;
        *self = NodeConfig::default();
        let r = self.read_fields(body);
        if r.is_err() {
            *self = NodeConfig::default();
        }
        r
    }

    fn read_fields(&mut self, body: &[u8]) -> Result<(), LoadError> {
        // read in place: no second copy of the strings on the stack
        let mut r = R { buf: body, pos: 4 };
        r.string_into(&mut self.ssid)?;
        r.string_into(&mut self.password)?;
        r.string_into(&mut self.host)?;
        self.port = r.u16()?;
        r.string_into(&mut self.sensor_id)?;
        self.interval_ms = r.i32()? as u32;
        self.samples = r.u8()?;
        self.calibrated = r.u8()? != 0;
        if r.u8()? == 0 {
            self.format = Format::Classic;
        }
        self.calibration = Calibration::from_bytes(r.take(Calibration::ENCODED_LEN)?)
            .map_err(|_| LoadError::Invalid)?;
        self.container_cg = r.i32()?;
        self.full_cg = r.i32()?;
        self.low_centipct = r.i32()?;
        self.full_ml = r.i32()? as u32;
        self.validate().map_err(|_| LoadError::Invalid)
    }

    /// A configuration from `(key, value)` settings, as firmware gets them from build-time
    /// environment variables (`option_env!`): the defaults, then every setting that is
    /// `Some`, in order, each checked as setup mode checks it ([`set`](Self::set)), then the
    /// whole ([`validate`](Self::validate)). `Err` names the first problem.
    ///
    /// `cal_counts_per_gram` (a decimal with up to two places) with `cal_offset` is a complete
    /// calibration; without `cal_offset` the node tares at boot.
    ///
    /// ```
    /// use scale_node::NodeConfig;
    /// let cfg = NodeConfig::from_settings(&[
    ///     ("ssid", Some("Lab")),
    ///     ("password", option_env!("SCALE_DOC_PASSWORD_THAT_IS_NOT_SET")),
    ///     ("host", Some("192.168.1.20")),
    ///     ("port", Some("5001")),
    ///     ("sensor", Some("Scale.Kitchen")),
    ///     ("cal_counts_per_gram", Some("420.5")),
    /// ])
    /// .unwrap();
    /// assert_eq!(cfg.port, 5001);
    /// assert!(!cfg.calibrated, "no offset: tared at boot");
    /// // the messages are `esp_at::rom::Rom`: in program memory on AVR
    /// let err = NodeConfig::from_settings(&[("ssid", Some("Lab")), ("port", Some("0"))]);
    /// assert_eq!(err.unwrap_err(), "port: 1-65535");
    /// ```
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn from_settings(settings: &[(&str, Option<&str>)]) -> Result<NodeConfig, Rom> {
        let mut c = NodeConfig::default();
        c.apply_settings(settings)?;
        Ok(c)
    }

    /// [`set`](Self::set) with a key and a value kept in program memory (`esp_at::rom!`,
    /// `esp_at::rom_env!`): build-time settings that cost an AVR no RAM. Keys are up to 24
    /// bytes and values up to 64.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn set_rom(&mut self, key: Rom, value: Rom) -> Result<(), Rom> {
        let (mut k, mut v) = ([0u8; 24], [0u8; 64]);
        if key.len() > k.len() {
            return Err(rom!(b"unknown key"));
        }
        if value.len() > v.len() {
            return Err(rom!(b"value too long"));
        }
        let (kn, vn) = (key.copy_to(&mut k), value.copy_to(&mut v));
        self.set(k.get(..kn).unwrap_or(&[]), v.get(..vn).unwrap_or(&[]))
    }

    /// [`from_settings`](Self::from_settings) on this configuration, in place (no second copy
    /// on a small stack): every setting that is `Some`, in order, then the whole is validated.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn apply_settings(&mut self, settings: &[(&str, Option<&str>)]) -> Result<(), Rom> {
        for &(key, value) in settings {
            if let Some(v) = value {
                self.set(key.as_bytes(), v.as_bytes())?;
            }
        }
        self.validate()
    }

    /// Whether the configuration is complete and consistent.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn validate(&self) -> Result<(), Rom> {
        esp_at::escape::check_ssid(&self.ssid).map_err(|_| rom!(b"ssid: 1-32 printable bytes"))?;
        esp_at::escape::check_password(&self.password)
            .map_err(|_| rom!(b"password: empty or 8-64 printable bytes"))?;
        check_host(&self.host)?;
        check_sensor(&self.sensor_id)?;
        if self.port == 0 {
            return Err(rom!(b"port: 1-65535"));
        }
        if !(1..=32).contains(&self.samples) {
            return Err(rom!(b"samples: 1-32"));
        }
        if self.interval_ms < 10 {
            return Err(rom!(b"interval_ms: at least 10"));
        }
        if self.full_cg != 0 && self.full_cg <= self.container_cg {
            return Err(rom!(b"full must be heavier than container"));
        }
        Ok(())
    }
}

#[inline(never)] // one copy: keeps small targets (AVR) small
fn check_host(h: &str) -> Result<(), Rom> {
    if h.is_empty()
        || h.len() > 64
        || !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(rom!(b"host: 1-64 of a-z 0-9 . -"));
    }
    Ok(())
}

#[inline(never)] // one copy: keeps small targets (AVR) small
fn check_sensor(s: &str) -> Result<(), Rom> {
    // ',' and ':' would break the gateway's split; control characters the line
    if s.is_empty()
        || s.len() > 32
        || !s
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b',' && b != b':')
    {
        return Err(rom!(b"sensor: 1-32 printable bytes without , or :"));
    }
    Ok(())
}

/// The answer to one setup line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupReply {
    /// Accepted into the draft.
    Ok,
    /// Rejected; the draft is unchanged.
    Err(Rom),
    /// `commit`: the draft is complete and valid ([`Setup::draft`] is the new configuration).
    Committed,
    /// `abort`: the draft was discarded.
    Aborted,
}

/// The setup-mode editor: `key=value` lines change a draft; `commit` validates it as a whole.
/// The running configuration is untouched until a commit succeeds.
#[derive(Debug, Clone)]
pub struct Setup {
    draft: NodeConfig,
    base: NodeConfig,
}

impl Setup {
    /// Start from the current configuration (or the defaults).
    pub fn new(current: Option<&NodeConfig>) -> Self {
        let base = current.cloned().unwrap_or_default();
        Setup {
            draft: base.clone(),
            base,
        }
    }

    /// The draft so far.
    pub fn draft(&self) -> &NodeConfig {
        &self.draft
    }

    /// Handle one line (without its line ending).
    pub fn line(&mut self, line: &[u8]) -> SetupReply {
        let reply = self.draft.edit(line);
        match reply {
            SetupReply::Committed => self.base.clone_from(&self.draft),
            SetupReply::Aborted => self.draft.clone_from(&self.base),
            SetupReply::Ok | SetupReply::Err(_) => {}
        }
        reply
    }
}

impl NodeConfig {
    /// Apply one setup line (without its line ending) to this configuration, used as a
    /// draft: `key=value` changes one field after checking it, `commit` validates the whole
    /// and answers [`SetupReply::Committed`], `abort` answers [`SetupReply::Aborted`] and
    /// leaves restoring the previous configuration to the caller (see [`Setup`], which does).
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn edit(&mut self, line: &[u8]) -> SetupReply {
        let line = trim(line);
        match line {
            b"" => return SetupReply::Ok,
            b"commit" => {
                return match self.validate() {
                    Ok(()) => SetupReply::Committed,
                    Err(e) => SetupReply::Err(e),
                };
            }
            b"abort" => return SetupReply::Aborted,
            _ => {}
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            return SetupReply::Err(rom!(b"expected key=value"));
        };
        let (key, value) = (
            line.get(..eq).unwrap_or(&[]),
            line.get(eq + 1..).unwrap_or(&[]),
        );
        match self.set(key, value) {
            Ok(()) => SetupReply::Ok,
            Err(e) => SetupReply::Err(e),
        }
    }

    /// Set one field from its setup-mode key and text value, checked as [`edit`](Self::edit)
    /// checks it (the value is taken as it is, spaces included). `Err` says why.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), Rom> {
        let Some(text) = esp_at::escape::utf8(value) else {
            return Err(rom!(b"value is not UTF-8"));
        };
        let d = self;
        let r: Result<(), Rom> = match KEYS.position_in_list(key) {
            Some(0) /* ssid */ => esp_at::escape::check_ssid(text)
                .map_err(|_| rom!(b"ssid: 1-32 printable bytes"))
                .and_then(|()| set_str(&mut d.ssid, text)),
            Some(1) /* password */ => esp_at::escape::check_password(text)
                .map_err(|_| rom!(b"password: empty or 8-64 printable bytes"))
                .and_then(|()| set_str(&mut d.password, text)),
            Some(2) /* host */ => check_host(text).and_then(|()| set_str(&mut d.host, text)),
            Some(3) /* port */ => match parse_u32(value)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p > 0)
            {
                Some(p) => {
                    d.port = p;
                    Ok(())
                }
                None => Err(rom!(b"port: 1-65535")),
            },
            Some(4) /* sensor */ => check_sensor(text).and_then(|()| set_str(&mut d.sensor_id, text)),
            Some(5) /* interval_ms */ => match parse_u32(value).filter(|&v| v >= 10) {
                Some(v) => {
                    d.interval_ms = v;
                    Ok(())
                }
                None => Err(rom!(b"interval_ms: at least 10")),
            },
            Some(6) /* samples */ => match parse_u32(value).filter(|v| (1..=32).contains(v)) {
                Some(v) => {
                    d.samples = v as u8;
                    Ok(())
                }
                None => Err(rom!(b"samples: 1-32")),
            },
            Some(7) /* cal_offset */ => match parse_i32(value) {
                Some(v) => {
                    d.calibration.offset = v;
                    d.calibrated = true;
                    Ok(())
                }
                None => Err(rom!(b"cal_offset: an integer")),
            },
            // counts per gram, up to two decimals (the Arduino libraries' set_scale factor)
            Some(8) /* cal_counts_per_gram */ => match parse_centi(value).filter(|&v| v != 0) {
                Some(cpg_x100) => {
                    let off = d.calibration.offset;
                    match Calibration::from_known_mass(off, off.saturating_add(cpg_x100), 10_000) {
                        Ok(c) => {
                            // the offset stays as it is: without `cal_offset` or a `tare`,
                            // the node tares at boot
                            d.calibration = c;
                            Ok(())
                        }
                        Err(_) => Err(rom!(b"cal_counts_per_gram: out of range")),
                    }
                }
                None => Err(rom!(b"cal_counts_per_gram: a non-zero number")),
            },
            #[cfg(feature = "stock")]
            Some(9) /* container_g */ => parse_centi(value)
                .map(|v| d.container_cg = v)
                .ok_or(rom!(b"container_g: grams")),
            #[cfg(feature = "stock")]
            Some(10) /* full_g */ => parse_centi(value)
                .map(|v| d.full_cg = v)
                .ok_or(rom!(b"full_g: grams")),
            #[cfg(feature = "stock")]
            Some(11) /* full_ml */ => match parse_u32(value) {
                Some(v) => {
                    d.full_ml = v;
                    Ok(())
                }
                None => Err(rom!(b"full_ml: millilitres")),
            },
            #[cfg(feature = "stock")]
            Some(12) /* low_percent */ => parse_centi(value)
                .filter(|v| (0..=10_000).contains(v))
                .map(|v| d.low_centipct = v)
                .ok_or(rom!(b"low_percent: 0-100")),
            Some(13) /* format */ => match value {
                b"classic" => {
                    d.format = Format::Classic;
                    Ok(())
                }
                b"extended" => {
                    d.format = Format::Extended;
                    Ok(())
                }
                _ => Err(rom!(b"format: classic or extended")),
            },
            _ => Err(rom!(b"unknown key")),
        };
        r
    }
}

/// The setup keys, each after its length byte, in the order [`NodeConfig::set`] numbers them:
/// one table and one loop instead of a comparison per key (a kilobyte of AVR code).
const KEYS: Rom = rom!(b"\x04ssid\x08password\x04host\x04port\x06sensor\x0binterval_ms\x07samples\x0acal_offset\x13cal_counts_per_gram\x0bcontainer_g\x06full_g\x07full_ml\x0blow_percent\x06format");

fn set_str<const N: usize>(dst: &mut String<N>, v: &str) -> Result<(), Rom> {
    let s = String::try_from(v).map_err(|_| rom!(b"value too long"))?;
    *dst = s;
    Ok(())
}

pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n' | b' '] = s {
        s = rest;
    }
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    s
}
