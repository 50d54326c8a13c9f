//! Windowed aggregates per sensor: average, minimum and maximum over tumbling windows (the
//! article's Stream Analytics queries), written as JSON lines.

use std::collections::BTreeMap;

use serde::Serialize;

/// One window's result for one sensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Aggregate {
    /// End of the window, ISO-8601 UTC.
    pub window_end: String,
    /// Device.
    pub device_id: String,
    /// Sensor.
    pub sensor_id: String,
    /// Sensor type.
    pub sensor_type: String,
    /// Readings in the window.
    pub count: u64,
    /// Average value.
    pub avg: f64,
    /// Minimum value.
    pub min: f64,
    /// Maximum value.
    pub max: f64,
}

#[derive(Debug, Clone, Copy)]
struct Acc {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// Accumulates the current window.
#[derive(Debug, Default)]
pub struct Windows {
    current: BTreeMap<(String, String, String), Acc>,
}

impl Windows {
    /// Add a value.
    pub fn add(&mut self, device: &str, sensor: &str, kind: &str, v: f64) {
        let a = self
            .current
            .entry((device.to_string(), sensor.to_string(), kind.to_string()))
            .or_insert(Acc {
                count: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            });
        a.count += 1;
        a.sum += v;
        a.min = a.min.min(v);
        a.max = a.max.max(v);
    }

    /// Close the window: its aggregates, and an empty new window.
    pub fn close(&mut self, window_end: &str) -> Vec<Aggregate> {
        std::mem::take(&mut self.current)
            .into_iter()
            .map(|((device_id, sensor_id, sensor_type), a)| Aggregate {
                window_end: window_end.to_string(),
                device_id,
                sensor_id,
                sensor_type,
                count: a.count,
                avg: a.sum / a.count as f64,
                min: a.min,
                max: a.max,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn avg_min_max_per_sensor() {
        let mut w = super::Windows::default();
        w.add("d", "Scale.A", "Weight", 10.0);
        w.add("d", "Scale.A", "Weight", 20.0);
        w.add("d", "Scale.B", "Weight", 5.0);
        let out = w.close("T");
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].count, out[0].avg, out[0].min, out[0].max),
            (2, 15.0, 10.0, 20.0)
        );
        assert_eq!(out[1].sensor_id, "Scale.B");
        assert!(w.close("T2").is_empty());
    }
}
