//! The node's configuration: what the user provisions (never compiled in), its persistent
//! form, and the setup-mode line protocol that edits it.

use avia_hx711::Calibration;
use avia_hx711::calibration::crc16_update;
use embedded_storage::{ReadStorage, Storage};
use esp_at::Rom;
use heapless::String;

use crate::fmt::LineBuf;
use crate::telemetry::MAX_LINE;

use crate::fmt::{parse_centi, parse_i32, parse_u32};
use crate::telemetry::Format;

/// Bytes reserved for the stored configuration (the longest record is 298 bytes).
pub const CONFIG_MAX: usize = 320;
const MAGIC: [u8; 2] = *b"SN";
const VERSION: u8 = 2;
/// Ends the entries of a stored record.
const END: u8 = 0xFF;
/// The entry of the calibration (after the setup keys).
const CAL_ENTRY: u8 = 14;

/// Everything the node needs to run.
///
/// Deliberately exhaustive: every field is a field of the stored record
/// ([`to_bytes`](Self::to_bytes)), so a new one changes the record format, a breaking release
/// either way; firmware and tests build one with a struct literal and `..NodeConfig::default()`.
/// Setup mode and [`build_settings!`](crate::build_settings) set fields by key through
/// [`set`](Self::set), which validates each value.
///
/// ```
/// use scale_node::{NodeConfig, telemetry::Format};
///
/// let mut config = NodeConfig {
///     port: 5001,
///     interval_ms: 30_000,
///     format: Format::Extended,
///     ..NodeConfig::default()
/// };
/// config.set(b"ssid", b"home").map_err(|e| e.to_string())?;
/// config.set(b"host", b"192.168.1.10").map_err(|e| e.to_string())?;
/// config.set(b"sensor", b"Scale.Kitchen").map_err(|e| e.to_string())?;
/// config.set(b"samples", b"0").unwrap_err(); // 1-32
/// config.validate().map_err(|e| e.to_string())?;
/// assert_eq!(config.ssid.as_str(), "home");
///
/// // the stored record (CRC-protected) and back
/// let mut bytes = [0u8; scale_node::config::CONFIG_MAX];
/// let n = config.to_bytes(&mut bytes);
/// assert_eq!(NodeConfig::from_bytes(&bytes[..n]), Ok(config));
/// # Ok::<(), String>(())
/// ```
// In declaration order (`repr(C)`), numbers first and strings last: an AVR reaches the first 64
// bytes of a structure with one instruction and pays three more beyond them.
#[derive(Clone, PartialEq, Eq)]
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

/// Every field but the Wi-Fi password, which shows as `<set>` or `<empty>`: a configuration in a
/// log or a panic message gives the network away to nobody.
impl core::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let password = if self.password.is_empty() {
            "<empty>"
        } else {
            "<set>"
        };
        let mut d = f.debug_struct("NodeConfig");
        d.field("port", &self.port)
            .field("interval_ms", &self.interval_ms)
            .field("samples", &self.samples)
            .field("calibrated", &self.calibrated)
            .field("format", &self.format)
            .field("calibration", &self.calibration)
            .field("container_cg", &self.container_cg)
            .field("full_cg", &self.full_cg)
            .field("low_centipct", &self.low_centipct)
            .field("full_ml", &self.full_ml)
            .field("ssid", &self.ssid)
            .field("sensor_id", &self.sensor_id)
            .field("password", &format_args!("{password}"))
            .field("host", &self.host)
            .finish()
    }
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
#[non_exhaustive]
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

/// Writes a record piece by piece, keeping its CRC; the first failed write sticks.
struct Out<'a> {
    put: &'a mut dyn FnMut(usize, &[u8]) -> bool,
    pos: usize,
    crc: u16,
    ok: bool,
}

impl Out<'_> {
    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn put(&mut self, bytes: &[u8]) {
        if self.ok {
            self.ok = (self.put)(self.pos, bytes);
        }
        self.crc = crc16_update(self.crc, bytes);
        self.pos += bytes.len();
    }
}

/// The stored entries this firmware understands: the setup keys that hold a value (not the
/// calibration helpers `cal_offset` and `cal_counts_per_gram`, which the calibration entry
/// replaces) and the calibration. Others (from a newer firmware, or the stock fields in one
/// built without the feature `stock`, which neither sets nor uses them) are skipped.
fn stored_entry(i: u8) -> bool {
    match i {
        7 | 8 => false,
        9..=12 => cfg!(feature = "stock"),
        _ => i <= CAL_ENTRY,
    }
}

impl NodeConfig {
    /// Serialize into `buf` (see [`save`](Self::save) for the format); returns the length.
    pub fn to_bytes(&self, buf: &mut [u8; CONFIG_MAX]) -> usize {
        self.encode(&mut |at, bytes| {
            buf.get_mut(at..at + bytes.len())
                .map(|dst| dst.copy_from_slice(bytes))
                .is_some()
        })
        .unwrap_or(0)
    }

    /// Write this configuration to `storage` at offset 0 in one write (through a buffer of
    /// [`CONFIG_MAX`] bytes on the stack: one erase of a flash page).
    ///
    /// The record: `SN`, version 2, then one entry per field (its setup-key number, a length
    /// byte, the value as setup mode reads it; the calibration as offset, multiplier and
    /// shift, little-endian, and a calibrated flag), `0xFF`, and a CRC-16 of all that.
    /// Loading puts every entry through the same checks as a setup line. A record cut short
    /// by a reset fails its CRC and is ignored.
    pub fn save<S: Storage>(&self, storage: &mut S) -> Result<(), S::Error> {
        let mut buf = [0u8; CONFIG_MAX];
        let n = self.to_bytes(&mut buf);
        storage.write(0, buf.get(..n).unwrap_or(&[]))
    }

    /// [`save`](Self::save) entry by entry, without the buffer: for storage written in place
    /// byte by byte (an EEPROM) on a small stack. The node uses it on 16-bit targets (AVR).
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn save_in_place<S: Storage>(&self, storage: &mut S) -> Result<(), S::Error> {
        let mut err = None;
        self.encode(&mut |at, bytes| match storage.write(at as u32, bytes) {
            Ok(()) => true,
            Err(e) => {
                err = Some(e);
                false
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The record through `put(offset, bytes)`; its length, `None` when a write failed.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn encode(&self, put: &mut dyn FnMut(usize, &[u8]) -> bool) -> Option<usize> {
        let mut o = Out {
            put,
            pos: 0,
            crc: 0xFFFF,
            ok: true,
        };
        o.put(&MAGIC);
        o.put(&[VERSION]);
        for i in 0..=CAL_ENTRY {
            let mut v: LineBuf<MAX_LINE> = LineBuf::new();
            if stored_entry(i) && self.entry(i, &mut v) {
                let b = v.as_bytes();
                o.put(&[i, b.len() as u8]);
                o.put(b);
            }
        }
        o.put(&[END]);
        let crc = o.crc.to_le_bytes();
        o.put(&crc);
        o.ok.then_some(o.pos)
    }

    /// The stored value of entry `i` (as [`set`](Self::set) takes it); `false` to leave it out.
    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn entry(&self, i: u8, v: &mut LineBuf<MAX_LINE>) -> bool {
        match i {
            0 => v.push(self.ssid.as_bytes()),
            1 => v.push(self.password.as_bytes()),
            2 => v.push(self.host.as_bytes()),
            3 => v.push_u32(u32::from(self.port)),
            4 => v.push(self.sensor_id.as_bytes()),
            5 => v.push_u32(self.interval_ms),
            6 => v.push_u32(u32::from(self.samples)),
            9 if self.container_cg != 0 => v.push_centi(self.container_cg),
            10 if self.full_cg != 0 => v.push_centi(self.full_cg),
            11 if self.full_ml != 0 => v.push_u32(self.full_ml),
            12 if self.low_centipct != 0 => v.push_centi(self.low_centipct),
            13 if self.format == Format::Classic => v.push_rom(rom!(b"classic")),
            CAL_ENTRY => {
                let c = &self.calibration;
                v.push(&c.offset().to_le_bytes())
                    .push(&c.mul().to_le_bytes())
                    .push(&[c.shift(), u8::from(self.calibrated)])
            }
            _ => return false,
        };
        true
    }

    /// Parse what [`to_bytes`](Self::to_bytes) wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<NodeConfig, LoadError> {
        let mut cfg = NodeConfig::default();
        cfg.load(bytes)?;
        Ok(cfg)
    }

    /// Check the framing of what [`to_bytes`](Self::to_bytes) wrote (magic, version, entry
    /// lengths, CRC) without reading the fields; returns the record's length.
    pub fn check_bytes(bytes: &[u8]) -> Result<usize, LoadError> {
        walk(&mut slice_reader(bytes), None)
    }

    /// Replace this configuration, in place, with what [`to_bytes`](Self::to_bytes) wrote.
    /// Bytes that fail [`check_bytes`](Self::check_bytes) leave it as it was; fields that do
    /// not validate despite a good CRC leave it at the defaults.
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), LoadError> {
        self.load_with(&mut slice_reader(bytes))
    }

    /// [`load`](Self::load) from `storage` at offset 0, entry by entry (what
    /// [`save`](Self::save) wrote; no buffer of the whole record).
    #[inline(never)] // one copy: keeps small targets (AVR) small
    pub fn load_from<S: ReadStorage>(&mut self, storage: &mut S) -> Result<(), LoadError> {
        self.load_with(&mut |at, buf| storage.read(at as u32, buf).is_ok())
    }

    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn load_with(
        &mut self,
        read: &mut dyn FnMut(usize, &mut [u8]) -> bool,
    ) -> Result<(), LoadError> {
        // check everything before touching anything, then read the entries again
        walk(read, None)?;
        *self = NodeConfig::default();
        let r =
            walk(read, Some(self)).and_then(|_| self.validate().map_err(|_| LoadError::Invalid));
        if r.is_err() {
            *self = NodeConfig::default();
        }
        r
    }

    /// Set field `i` from its stored value.
    fn set_entry(&mut self, i: u8, value: &[u8]) -> Result<(), LoadError> {
        if i != CAL_ENTRY {
            return self.set_field(i, value).map_err(|_| LoadError::Invalid);
        }
        let &[o0, o1, o2, o3, m0, m1, m2, m3, shift, calibrated] = value else {
            return Err(LoadError::Invalid);
        };
        self.calibration = Calibration::from_parts(
            i32::from_le_bytes([o0, o1, o2, o3]),
            i32::from_le_bytes([m0, m1, m2, m3]),
            shift,
        )
        .map_err(|_| LoadError::Invalid)?;
        self.calibrated = calibrated != 0;
        Ok(())
    }
}

fn slice_reader(bytes: &[u8]) -> impl FnMut(usize, &mut [u8]) -> bool + '_ {
    move |at, buf| {
        bytes
            .get(at..at + buf.len())
            .map(|src| buf.copy_from_slice(src))
            .is_some()
    }
}

/// Go through a stored record: check its framing and CRC (`apply` = `None`), or set the
/// fields of `apply` from its entries. Returns the record's length.
fn walk(
    read: &mut dyn FnMut(usize, &mut [u8]) -> bool,
    mut apply: Option<&mut NodeConfig>,
) -> Result<usize, LoadError> {
    let mut head = [0u8; 3];
    if !read(0, &mut head) || head[..2] != MAGIC {
        return Err(LoadError::Empty);
    }
    if head[2] != VERSION {
        return Err(LoadError::Version);
    }
    let mut crc = crc16_update(0xFFFF, &head);
    let mut pos = head.len();
    // the longest value this firmware stores is 64 bytes (a password)
    let mut value = [0u8; 64];
    loop {
        // an entry header, or the end mark and the CRC
        let mut h = [0u8; 2];
        if pos + h.len() > CONFIG_MAX || !read(pos, &mut h) {
            return Err(LoadError::Invalid);
        }
        if h[0] == END {
            // the CRC follows the mark: its first byte was read with it
            crc = crc16_update(crc, &h[..1]);
            let mut last = [0u8; 1];
            if pos + 3 > CONFIG_MAX || !read(pos + 2, &mut last) {
                return Err(LoadError::Invalid);
            }
            if crc.to_le_bytes() != [h[1], last[0]] {
                return Err(LoadError::Crc);
            }
            return Ok(pos + 3);
        }
        let len = usize::from(h[1]);
        let Some(v) = value.get_mut(..len) else {
            return Err(LoadError::Invalid);
        };
        if pos + 2 + len > CONFIG_MAX || !read(pos + 2, v) {
            return Err(LoadError::Invalid);
        }
        crc = crc16_update(crc16_update(crc, &h), v);
        if let Some(cfg) = apply.as_deref_mut()
            && stored_entry(h[0])
        {
            cfg.set_entry(h[0], v)?;
        }
        pos += 2 + len;
    }
}

impl NodeConfig {
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
    /// // the messages are `esp_at::Rom`: in program memory on AVR
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
            return Err(E_UNKNOWN_KEY);
        }
        if value.len() > v.len() {
            return Err(E_TOO_LONG);
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
        esp_at::escape::check_ssid(&self.ssid).map_err(|_| E_SSID)?;
        esp_at::escape::check_password(&self.password).map_err(|_| E_PASSWORD)?;
        check_host(&self.host)?;
        check_sensor(&self.sensor_id)?;
        if self.port == 0 {
            return Err(E_PORT);
        }
        if !(1..=32).contains(&self.samples) {
            return Err(E_SAMPLES);
        }
        // (at most nine digits: what setup mode reads and storage writes)
        if self.interval_ms < 10 || self.interval_ms > 999_999_999 {
            return Err(E_INTERVAL);
        }
        if self.full_ml > 999_999_999 {
            return Err(E_FULL_ML);
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
#[non_exhaustive]
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
        match KEYS.position_in_list(key) {
            Some(i) => self.set_field(i, value),
            None => Err(E_UNKNOWN_KEY),
        }
    }

    /// [`set`](Self::set) by the key's number in [`KEYS`].
    #[inline(never)] // one copy: keeps small targets (AVR) small
    fn set_field(&mut self, key: u8, value: &[u8]) -> Result<(), Rom> {
        let Some(text) = esp_at::escape::utf8(value) else {
            return Err(rom!(b"value is not UTF-8"));
        };
        let d = self;
        match key {
            // the texts: checked, then copied in
            0..=2 | 4 => {
                let (checked, dst) = match key {
                    0 => (
                        esp_at::escape::check_ssid(text).map_err(|_| E_SSID),
                        d.ssid.as_mut_view(),
                    ),
                    1 => (
                        esp_at::escape::check_password(text).map_err(|_| E_PASSWORD),
                        d.password.as_mut_view(),
                    ),
                    2 => (check_host(text), d.host.as_mut_view()),
                    _ => (check_sensor(text), d.sensor_id.as_mut_view()),
                };
                checked.and_then(|()| set_str(dst, text))
            }
            // the whole numbers: one parse and one range check for all
            3 /* port */ | 5 /* interval_ms */ | 6 /* samples */ => {
                let (lo, hi, err) = match key {
                    3 => (1, 65_535, E_PORT),
                    5 => (10, 999_999_999, E_INTERVAL),
                    _ => (1, 32, E_SAMPLES),
                };
                match parse_u32(value).filter(|v| *v >= lo && *v <= hi) {
                    Some(v) => {
                        match key {
                            3 => d.port = v as u16,
                            5 => d.interval_ms = v,
                            _ => d.samples = v as u8,
                        }
                        Ok(())
                    }
                    None => Err(err),
                }
            }
            7 /* cal_offset */ => match parse_i32(value) {
                Some(v) => {
                    d.calibration.set_offset(v);
                    d.calibrated = true;
                    Ok(())
                }
                None => Err(rom!(b"cal_offset: an integer")),
            },
            // counts per gram, up to two decimals (the Arduino libraries' set_scale factor)
            8 /* cal_counts_per_gram */ => match parse_centi(value).filter(|&v| v != 0) {
                Some(cpg_x100) => {
                    let off = d.calibration.offset();
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
            9 /* container_g */ => parse_centi(value)
                .map(|v| d.container_cg = v)
                .ok_or(rom!(b"container_g: grams")),
            #[cfg(feature = "stock")]
            10 /* full_g */ => parse_centi(value)
                .map(|v| d.full_cg = v)
                .ok_or(rom!(b"full_g: grams")),
            #[cfg(feature = "stock")]
            11 /* full_ml */ => match parse_u32(value) {
                Some(v) => {
                    d.full_ml = v;
                    Ok(())
                }
                None => Err(E_FULL_ML),
            },
            #[cfg(feature = "stock")]
            12 /* low_percent */ => parse_centi(value)
                .filter(|v| (0..=10_000).contains(v))
                .map(|v| d.low_centipct = v)
                .ok_or(rom!(b"low_percent: 0-100")),
            13 /* format */ => match value {
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
            _ => Err(E_UNKNOWN_KEY),
        }
    }
}

/// Messages used in more than one place (one copy in program memory).
const E_SSID: Rom = rom!(b"ssid: 1-32 printable bytes");
const E_PASSWORD: Rom = rom!(b"password: empty or 8-64 printable bytes");
const E_PORT: Rom = rom!(b"port: 1-65535");
const E_SAMPLES: Rom = rom!(b"samples: 1-32");
const E_INTERVAL: Rom = rom!(b"interval_ms: 10-999999999");
const E_FULL_ML: Rom = rom!(b"full_ml: 0-999999999 millilitres");
const E_UNKNOWN_KEY: Rom = rom!(b"unknown key");
const E_TOO_LONG: Rom = rom!(b"value too long");

/// The setup keys, each after its length byte, in the order [`NodeConfig::set`] numbers them:
/// one table and one loop instead of a comparison per key (a kilobyte of AVR code).
const KEYS: Rom = rom!(b"\x04ssid\x08password\x04host\x04port\x06sensor\x0binterval_ms\x07samples\x0acal_offset\x13cal_counts_per_gram\x0bcontainer_g\x06full_g\x07full_ml\x0blow_percent\x06format");

/// Replace `dst` with `v` if it fits (through the size-less view: one copy of the code).
fn set_str(dst: &mut heapless::string::StringView, v: &str) -> Result<(), Rom> {
    if v.len() > dst.capacity() {
        return Err(E_TOO_LONG);
    }
    dst.clear();
    dst.push_str(v).map_err(|_| E_TOO_LONG)
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
