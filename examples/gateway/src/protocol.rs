//! The device line protocol: `<Type>:<value>,<SensorId>[,<seq>,<flags>,<dropped>[,<boot>]]`.
//!
//! The fields after the sensor id are decimal `u32`s; more fields after `<boot>` are ignored
//! (room for later extensions, as the article's gateway ignores everything after the id).

use std::fmt;

/// One parsed device line.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLine {
    /// `Weight`, `Amount`, ...
    pub sensor_type: String,
    /// The value exactly as sent (`123.45`).
    pub value: String,
    /// The value as a number.
    pub number: f64,
    /// Sensor id (`Scale.Arduino`).
    pub sensor_id: String,
    /// Sequence number (extended form).
    pub seq: Option<u32>,
    /// Flags (extended form).
    pub flags: Option<u32>,
    /// Readings the device dropped so far (extended form).
    pub dropped: Option<u32>,
    /// Boot id of the node (extended form): a new one at every start of the node.
    pub boot: Option<u32>,
}

/// Why a line was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not UTF-8.
    NotText,
    /// No `,<SensorId>`.
    NoSensor,
    /// No `<Type>:`.
    NoType,
    /// The value is not a number.
    BadValue,
    /// A field is too long or has forbidden characters.
    BadField,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineError::NotText => "not text",
            LineError::NoSensor => "missing ,<SensorId>",
            LineError::NoType => "missing <Type>:",
            LineError::BadValue => "value is not a number",
            LineError::BadField => "field too long or invalid",
        })
    }
}

fn field_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Parse one line (without its line ending; surrounding whitespace is ignored, as the
/// article's gateway strips it).
pub fn parse_line(raw: &[u8]) -> Result<DeviceLine, LineError> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| LineError::NotText)?
        .trim();
    let mut fields = text.split(',');
    let first = fields.next().unwrap_or("");
    let sensor_id = fields.next().ok_or(LineError::NoSensor)?.trim();
    let (sensor_type, value) = first.split_once(':').ok_or(LineError::NoType)?;
    let (sensor_type, value) = (sensor_type.trim(), value.trim());
    if !field_ok(sensor_type) || !field_ok(sensor_id) || !field_ok(value) {
        return Err(LineError::BadField);
    }
    let number: f64 = value.parse().map_err(|_| LineError::BadValue)?;
    if !number.is_finite() {
        return Err(LineError::BadValue);
    }
    let mut num = || -> Result<Option<u32>, LineError> {
        match fields.next() {
            None => Ok(None),
            Some(f) => f
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|_| LineError::BadField),
        }
    };
    let (seq, flags, dropped, boot) = (num()?, num()?, num()?, num()?);
    Ok(DeviceLine {
        sensor_type: sensor_type.to_string(),
        value: value.to_string(),
        number,
        sensor_id: sensor_id.to_string(),
        seq,
        flags,
        dropped,
        boot,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_and_extended_lines() {
        let l = parse_line(b"Weight:123.45,Scale.Arduino\r").unwrap();
        assert_eq!(
            (
                l.sensor_type.as_str(),
                l.value.as_str(),
                l.sensor_id.as_str()
            ),
            ("Weight", "123.45", "Scale.Arduino")
        );
        assert_eq!(l.seq, None);
        let l = parse_line(b"Amount:50.00,Scale.Fridge,17,4,2").unwrap();
        assert_eq!((l.seq, l.flags, l.dropped), (Some(17), Some(4), Some(2)));
        let l = parse_line(b"Amount:50.00,Scale.Fridge,17,4,2,3735928559,future").unwrap();
        assert_eq!(l.boot, Some(3_735_928_559));
        assert_eq!(parse_line(b"Weight:1.0,S,x"), Err(LineError::BadField));
        assert_eq!(
            parse_line(b"Weight:1.0,S,1,2,3,-4"),
            Err(LineError::BadField)
        );
        assert_eq!(parse_line(b"Weight:1.0"), Err(LineError::NoSensor));
        assert_eq!(parse_line(b"Weight1.0,S"), Err(LineError::NoType));
        assert_eq!(parse_line(b"Weight:abc,S"), Err(LineError::BadValue));
        assert_eq!(parse_line(b"Weight:NaN,S"), Err(LineError::BadValue));
        assert_eq!(parse_line(b"\xff\xfe"), Err(LineError::NotText));
        assert_eq!(parse_line(b"Weight:1, "), Err(LineError::BadField));
    }
}
