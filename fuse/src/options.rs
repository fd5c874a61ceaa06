//! Mount options: what `cairn mount -o ...` and its flags set.

use std::time::Duration;

/// How a mount behaves.
#[derive(Debug, Clone)]
pub struct MountOptions {
    /// Refuse every change (the kernel answers EROFS).
    pub read_only: bool,
    /// Let users other than the one who mounted use the mount (the
    /// namenode still checks every call against the caller's name).
    pub allow_other: bool,
    /// How long the kernel may trust attributes it was given.
    pub attr_ttl: Duration,
    /// How long the kernel may trust a name it looked up.
    pub entry_ttl: Duration,
    /// The uid shown for Cairn owners without a local account.
    pub nobody_uid: u32,
    /// The gid shown for Cairn groups without a local group.
    pub nobody_gid: u32,
}

impl Default for MountOptions {
    fn default() -> Self {
        Self {
            read_only: false,
            allow_other: false,
            attr_ttl: Duration::from_secs(1),
            entry_ttl: Duration::from_secs(1),
            nobody_uid: 65534,
            nobody_gid: 65534,
        }
    }
}

impl MountOptions {
    /// Applies one comma-separated `-o` list (`ro,allow_other,attr_timeout=5`),
    /// as mount(8) and libfuse spell them.
    pub fn apply(&mut self, list: &str) -> Result<(), String> {
        for option in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let (key, value) = match option.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (option, None),
            };
            match (key, value) {
                ("ro", None) => self.read_only = true,
                ("rw", None) => self.read_only = false,
                ("allow_other", None) => self.allow_other = true,
                ("attr_timeout", Some(v)) => self.attr_ttl = seconds(key, v)?,
                ("entry_timeout", Some(v)) => self.entry_ttl = seconds(key, v)?,
                ("nobody_uid", Some(v)) => self.nobody_uid = number(key, v)?,
                ("nobody_gid", Some(v)) => self.nobody_gid = number(key, v)?,
                _ => {
                    return Err(format!(
                        "unknown mount option `{option}' (known: ro, rw, allow_other, \
                         attr_timeout=SECONDS, entry_timeout=SECONDS, nobody_uid=UID, nobody_gid=GID)"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn seconds(key: &str, value: &str) -> Result<Duration, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{key}={value}: expected a number of seconds"))
}

fn number(key: &str, value: &str) -> Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("{key}={value}: expected a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mount_style_lists() {
        let mut options = MountOptions::default();
        options
            .apply("ro,allow_other,attr_timeout=2.5,entry_timeout=0,nobody_uid=99")
            .unwrap();
        assert!(options.read_only && options.allow_other);
        assert_eq!(options.attr_ttl, Duration::from_millis(2500));
        assert_eq!(options.entry_ttl, Duration::ZERO);
        assert_eq!(options.nobody_uid, 99);
        assert!(options.apply("bogus").unwrap_err().contains("bogus"));
        assert!(options.apply("attr_timeout=x").is_err());
    }
}
