//! How daemon configuration files write durations and sizes, shared by
//! every daemon so that `"3s"` or `"128MiB"` means the same in each section
//! of `cairn.toml`.
//!
//! Use with serde: `#[serde(with = "cairn_proto::config_value::duration")]`
//! and `#[serde(deserialize_with = "cairn_proto::config_value::size::deserialize")]`.

/// Durations as milliseconds or as "1h 30m"-style strings.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Millis(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
            Raw::Text(text) => parse(&text).map_err(serde::de::Error::custom),
        }
    }

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    /// Parses "3s", "500ms", "10m 30s", "1h", "2d" or a bare number of ms.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration".into());
        }
        if let Ok(ms) = text.parse::<u64>() {
            return Ok(Duration::from_millis(ms));
        }
        let mut total = Duration::ZERO;
        for part in text.split_whitespace() {
            let split = part
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("duration {text:?}: {part:?} has no unit"))?;
            let (number, unit) = part.split_at(split);
            let n: u64 = number
                .parse()
                .map_err(|_| format!("duration {text:?}: {part:?} does not start with a number"))?;
            let unit_ms: u64 = match unit {
                "ms" => 1,
                "s" | "sec" | "secs" => 1000,
                "m" | "min" | "mins" => 60_000,
                "h" | "hr" | "hours" => 3_600_000,
                "d" | "days" => 86_400_000,
                _ => {
                    return Err(format!(
                        "duration {text:?}: unknown unit {unit:?} (ms, s, m, h, d)"
                    ));
                }
            };
            total += Duration::from_millis(n.saturating_mul(unit_ms));
        }
        Ok(total)
    }
}

/// Sizes as a number of bytes or a string such as "128MiB", "64k".
pub mod size {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(n),
            Raw::Text(text) => parse(&text).map_err(serde::de::Error::custom),
        }
    }

    /// Parses "134217728", "128MiB", "128m", "1g" (binary units).
    pub fn parse(text: &str) -> Result<u64, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("size {text:?} does not start with a number"))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            other => return Err(format!("size {text:?}: unknown unit {other:?}")),
        };
        n.checked_mul(1u64 << shift)
            .ok_or_else(|| format!("size {text:?} is too large"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration::parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration::parse("2000"), Ok(Duration::from_secs(2)));
        assert_eq!(duration::parse("10m 30s"), Ok(Duration::from_secs(630)));
        assert_eq!(duration::parse("6h"), Ok(Duration::from_secs(21_600)));
        assert!(duration::parse("3 parsecs").is_err());
        assert!(duration::parse("ms").is_err());
        assert!(duration::parse("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size::parse("134217728"), Ok(128 << 20));
        assert_eq!(size::parse("128MiB"), Ok(128 << 20));
        assert_eq!(size::parse("64k"), Ok(64 << 10));
        assert_eq!(size::parse("1g"), Ok(1 << 30));
        assert!(size::parse("12 bananas").is_err());
        assert!(size::parse("99999999999t").is_err());
    }
}
