//! The JSON event the cloud receives: the article's fields plus sequence number and flags.

use serde::{Deserialize, Serialize};

use crate::protocol::DeviceLine;

/// One reading as forwarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Event {
    /// When the gateway received it, ISO-8601 UTC (Stream Analytics' `TIMESTAMP BY Time`).
    pub time: String,
    /// This gateway.
    pub gateway_id: String,
    /// The device: its address as seen by the gateway (the partition key).
    pub device_id: String,
    /// Sensor id from the line.
    pub sensor_id: String,
    /// Sensor type from the line.
    pub sensor_type: String,
    /// The value as sent, as text (as the article's gateway forwarded it).
    pub sensor_value: String,
    /// Sequence number (extended lines).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seq: Option<u32>,
    /// Flags (extended lines).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub flags: Option<u32>,
    /// Boot id of the node (extended lines from nodes that send one): with `Seq`, it names
    /// the reading, so a consumer can drop a duplicate by (`DeviceId`, `SensorId`, `Boot`, `Seq`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub boot: Option<u32>,
}

impl Event {
    /// Build from a parsed line.
    pub fn new(line: &DeviceLine, gateway_id: &str, device_id: &str, time: String) -> Self {
        Event {
            time,
            gateway_id: gateway_id.to_string(),
            device_id: device_id.to_string(),
            sensor_id: line.sensor_id.clone(),
            sensor_type: line.sensor_type.clone(),
            sensor_value: line.value.clone(),
            seq: line.seq,
            flags: line.flags,
            boot: line.boot,
        }
    }

    /// The value as a number (validated when the line was parsed).
    pub fn number(&self) -> f64 {
        self.sensor_value.parse().unwrap_or(f64::NAN)
    }

    /// JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// ISO-8601 UTC with milliseconds for a UNIX time in ms.
pub fn iso8601(unix_ms: u128) -> String {
    let secs = (unix_ms / 1000) as i64;
    let ms = (unix_ms % 1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // days since 1970-01-01 to civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Now, ISO-8601 UTC.
pub fn now_iso8601() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    iso8601(ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::iso8601(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(super::iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
