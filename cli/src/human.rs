//! Formatting shared by `dfs`, `fsck` and `dfsadmin`: sizes, percentages,
//! dates and permissions written exactly as Hadoop writes them, so that
//! scripts that parse `hdfs` output parse ours.
//!
//! Java formats differ from Rust's in small ways that matter to a byte-exact
//! output: `%.1f` rounds half up (Rust rounds ties to even), `Float.toString`
//! always has a fractional part (`100.0`), and `Date.toString` has its own
//! layout. Each helper here names the Java function it reproduces.

use chrono::{DateTime, Local, Offset, TimeZone, Utc};

/// Hadoop's `StringUtils.TraditionalBinaryPrefix` symbols, by power of 1024.
const BINARY_PREFIXES: [char; 6] = ['K', 'M', 'G', 'T', 'P', 'E'];

/// `StringUtils.TraditionalBinaryPrefix.long2String(n, unit, decimalPlaces)`:
/// `1536` → `"1.5 K"`, `1024` → `"1 K"`, `44 MiB` → `"44 M"`, `0` → `"0"`.
///
/// Exact multiples print without decimals; other values are rounded half up
/// to `decimal_places`, moving to the next prefix when the rounding reaches
/// 1024 (`"1 M"` rather than `"1024.0 K"`, as Hadoop checks for).
pub fn long2string(n: i64, unit: &str, decimal_places: usize) -> String {
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    let magnitude = n.unsigned_abs();
    if magnitude < 1024 {
        out.push_str(&magnitude.to_string());
        if !unit.is_empty() {
            out.push(' ');
            out.push_str(unit);
        }
        return out;
    }
    // The largest prefix not above the value: 1 for K, 2 for M, ...
    let mut power = 1u32;
    while power < BINARY_PREFIXES.len() as u32 && magnitude >= 1u64 << (10 * (power + 1)) {
        power += 1;
    }
    let shift = 10 * power;
    let digits = if magnitude & ((1u64 << shift) - 1) == 0 {
        (magnitude >> shift).to_string()
    } else {
        let mut text = divide_half_up(magnitude, shift, decimal_places);
        if text.starts_with("1024") && (power as usize) < BINARY_PREFIXES.len() {
            power += 1;
            text = divide_half_up(magnitude, 10 * power, decimal_places);
        }
        text
    };
    out.push_str(&digits);
    out.push(' ');
    out.push(BINARY_PREFIXES[power as usize - 1]);
    out.push_str(unit);
    out
}

/// `value / 2^shift` with `decimals` digits after the point, rounded half up,
/// computed exactly in integers.
fn divide_half_up(value: u64, shift: u32, decimals: usize) -> String {
    let scale = 10u128.pow(decimals as u32);
    let divisor = 1u128 << shift;
    let scaled = (u128::from(value) * scale + divisor / 2) / divisor;
    let whole = scaled / scale;
    if decimals == 0 {
        return whole.to_string();
    }
    let fraction = scaled % scale;
    format!("{whole}.{fraction:0width$}", width = decimals)
}

/// Sizes as `-h` shows them (`ls -h`, `du -h`, `count -h`, `df -h`).
pub fn human_size(n: u64) -> String {
    long2string(i64::try_from(n).unwrap_or(i64::MAX), "", 1)
}

/// `StringUtils.byteDesc`: `"0 B"`, `"1.50 KB"`, `"10 GB"`.
pub fn byte_desc(n: u64) -> String {
    long2string(i64::try_from(n).unwrap_or(i64::MAX), "B", 2)
}

/// Java's `String.format("%.<decimals>f", x)`: like Rust's `{:.N}` but ties
/// round away from zero (Java uses `RoundingMode.HALF_UP`), and NaN and the
/// infinities print as Java prints them.
pub fn format_fixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let scale = 10f64.powi(decimals as i32);
    let scaled = x * scale;
    // A tie at the first dropped digit: only then do the two roundings differ.
    if scaled.abs() < 2f64.powi(52) && (scaled - scaled.trunc()).abs() == 0.5 {
        let away = (scaled.trunc() + scaled.signum()) / scale;
        return format!("{away:.decimals$}");
    }
    format!("{x:.decimals$}")
}

/// `StringUtils.formatPercent(fraction, decimals)`: `0.2534` → `"25.34%"`.
pub fn format_percent(fraction: f64, decimals: usize) -> String {
    format!("{}%", format_fixed(fraction * 100.0, decimals))
}

/// `DFSUtil.percent2String`: a percentage already multiplied by 100.
pub fn percent2string(percent: f64) -> String {
    format!("{}%", format_fixed(percent, 2))
}

/// Java's `Float.toString`: the shortest digits that identify the float,
/// always with a fractional part (`100.0`), and scientific notation outside
/// [10^-3, 10^7) (`1.0E-4`).
pub fn java_float(x: f32) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let magnitude = x.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let text = format!("{x}");
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    } else {
        // Rust: "1e-4", "1.5e7"; Java: "1.0E-4", "1.5E7".
        let text = format!("{x:e}");
        match text.split_once('e') {
            Some((mantissa, exponent)) if mantissa.contains('.') => {
                format!("{mantissa}E{exponent}")
            }
            Some((mantissa, exponent)) => format!("{mantissa}.0E{exponent}"),
            None => text,
        }
    }
}

/// The time of a milliseconds-since-epoch stamp in `tz`, or the epoch when
/// the stamp is out of chrono's range (a corrupt value must not panic).
fn at<Tz: TimeZone>(ms: u64, tz: &Tz) -> DateTime<Tz> {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    tz.timestamp_millis_opt(ms)
        .earliest()
        .unwrap_or_else(|| tz.from_utc_datetime(&DateTime::UNIX_EPOCH.naive_utc()))
}

/// `-ls` dates: `yyyy-MM-dd HH:mm` in the given zone (local time in use).
pub fn ls_date<Tz: TimeZone>(ms: u64, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    at(ms, tz).format("%Y-%m-%d %H:%M").to_string()
}

/// `-ls` dates in the local time zone, as `hdfs dfs -ls` prints them.
pub fn ls_date_local(ms: u64) -> String {
    ls_date(ms, &Local)
}

/// `-stat` `%y`/`%x`: `yyyy-MM-dd HH:mm:ss` in UTC.
pub fn stat_date(ms: u64) -> String {
    at(ms, &Utc).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Java's `Date.toString()`: `Mon Jan 01 10:00:00 UTC 2024`. Java names the
/// zone by its abbreviation, which chrono cannot know; a zero offset prints
/// as `UTC` and any other as `GMT+01:00`, which is what Java prints for a zone
/// it has no name for.
pub fn java_date<Tz: TimeZone>(ms: u64, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let time = at(ms, tz);
    let offset_seconds = time.offset().fix().local_minus_utc();
    let zone = if offset_seconds == 0 {
        "UTC".to_string()
    } else {
        let sign = if offset_seconds < 0 { '-' } else { '+' };
        let minutes = offset_seconds.unsigned_abs() / 60;
        format!("GMT{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    };
    format!(
        "{} {zone} {}",
        time.format("%a %b %d %H:%M:%S"),
        time.format("%Y")
    )
}

/// [`java_date`] in the local time zone.
pub fn java_date_local(ms: u64) -> String {
    java_date(ms, &Local)
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

/// `FsPermission.toString()`: `rwxr-xr-x`, with the sticky bit as `t` (or
/// `T` when others may not execute) in the last place.
pub fn permission_string(mode: u32) -> String {
    let mut text = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        text.push(if bits & 4 != 0 { 'r' } else { '-' });
        text.push(if bits & 2 != 0 { 'w' } else { '-' });
        text.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    if mode & 0o1000 != 0 {
        text.pop();
        text.push(if mode & 1 != 0 { 't' } else { 'T' });
    }
    text
}

/// `FsPermission.toOctal()`: the mode's octal digits read as a decimal
/// number, as `-stat %a` prints it: `644`, `1777`, `0` for no bits at all.
pub fn permission_octal(mode: u32) -> u32 {
    ((mode >> 9) & 1) * 1000 + ((mode >> 6) & 7) * 100 + ((mode >> 3) & 7) * 10 + (mode & 7)
}

/// `StringUtils.TraditionalBinaryPrefix.string2long`: `"128m"`, `"1g"`,
/// `"4096"` (prefixes k, m, g, t, p, e in either case).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let Some(last) = text.chars().last() else {
        return Err("empty size".to_string());
    };
    if last.is_ascii_digit() {
        return text
            .parse::<u64>()
            .map_err(|_| format!("For input string: \"{text}\""));
    }
    let power = BINARY_PREFIXES
        .iter()
        .position(|p| p.eq_ignore_ascii_case(&last))
        .ok_or_else(|| {
            format!(
                "Invalid size prefix '{last}' in '{text}'. Allowed prefixes are k, m, g, t, p, e(case insensitive)"
            )
        })?;
    let digits = &text[..text.len() - last.len_utf8()];
    let number = digits
        .parse::<u64>()
        .map_err(|_| format!("For input string: \"{digits}\""))?;
    let multiplier = 1u64 << (10 * (power + 1));
    number
        .checked_mul(multiplier)
        .filter(|v| i64::try_from(*v).is_ok())
        .ok_or_else(|| format!("{text} does not fit in a Long"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    #[test]
    fn long2string_matches_hadoop() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1024), "1 K");
        assert_eq!(human_size(1536), "1.5 K");
        assert_eq!(human_size(1280), "1.3 K"); // 1.25: half up, not to even
        assert_eq!(human_size(44 * 1024 * 1024), "44 M");
        assert_eq!(human_size(300 * 1024 * 1024), "300 M");
        assert_eq!(human_size(1024 * 1024 - 1), "1.0 M"); // 1023.999 K rounds up a prefix
        assert_eq!(human_size(1_234_567_890), "1.1 G");
        assert_eq!(long2string(-2048, "", 1), "-2 K");
        assert_eq!(human_size(u64::MAX), "8.0 E");
    }

    #[test]
    fn byte_desc_has_two_decimals_and_a_unit() {
        assert_eq!(byte_desc(0), "0 B");
        assert_eq!(byte_desc(512), "512 B");
        assert_eq!(byte_desc(1536), "1.50 KB");
        assert_eq!(byte_desc(10 * 1024 * 1024 * 1024), "10 GB");
        assert_eq!(byte_desc(1_000_000_000_000), "931.32 GB");
    }

    #[test]
    fn fixed_rounds_ties_up() {
        assert_eq!(format_fixed(0.125, 2), "0.13");
        assert_eq!(format_fixed(2.5, 0), "3");
        assert_eq!(format_fixed(-2.5, 0), "-3");
        assert_eq!(format_fixed(1.0 / 3.0, 2), "0.33");
        assert_eq!(format_fixed(f64::NAN, 0), "NaN");
        assert_eq!(format_percent(0.25, 0), "25%");
        assert_eq!(format_percent(0.0, 2), "0.00%");
        assert_eq!(percent2string(89.0835), "89.08%");
    }

    #[test]
    fn java_float_always_has_a_fraction() {
        assert_eq!(java_float(100.0), "100.0");
        assert_eq!(java_float(3.0), "3.0");
        assert_eq!(java_float(0.0), "0.0");
        assert_eq!(java_float(100.0 / 3.0), "33.333332");
        assert_eq!(java_float(2.6666667), "2.6666667");
        assert_eq!(java_float(0.0001), "1.0E-4");
        assert_eq!(java_float(12_345_678.0), "1.2345678E7");
    }

    #[test]
    fn dates_in_hadoop_layouts() {
        // 2024-01-02 03:04:05.678 UTC
        let ms = 1_704_164_645_678;
        assert_eq!(ls_date(ms, &Utc), "2024-01-02 03:04");
        let plus_two = FixedOffset::east_opt(2 * 3600).unwrap();
        assert_eq!(ls_date(ms, &plus_two), "2024-01-02 05:04");
        assert_eq!(stat_date(ms), "2024-01-02 03:04:05");
        assert_eq!(java_date(ms, &Utc), "Tue Jan 02 03:04:05 UTC 2024");
        assert_eq!(
            java_date(ms, &plus_two),
            "Tue Jan 02 05:04:05 GMT+02:00 2024"
        );
        assert_eq!(stat_date(u64::MAX), "1970-01-01 00:00:00");
    }

    #[test]
    fn permissions_in_symbolic_and_octal() {
        assert_eq!(permission_string(0o755), "rwxr-xr-x");
        assert_eq!(permission_string(0o644), "rw-r--r--");
        assert_eq!(permission_string(0o1777), "rwxrwxrwt");
        assert_eq!(permission_string(0o1776), "rwxrwxrwT");
        assert_eq!(permission_string(0), "---------");
        assert_eq!(permission_octal(0o644), 644);
        assert_eq!(permission_octal(0o1777), 1777);
        assert_eq!(permission_octal(0o7), 7);
    }

    #[test]
    fn sizes_parse_with_binary_prefixes() {
        assert_eq!(parse_size("128m"), Ok(128 * 1024 * 1024));
        assert_eq!(parse_size("1g"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size(" 2k "), Ok(2048));
        assert!(
            parse_size("12x")
                .unwrap_err()
                .contains("Invalid size prefix 'x'")
        );
        assert!(parse_size("").is_err());
        assert!(parse_size("m").is_err());
        assert!(parse_size("9999999e").unwrap_err().contains("does not fit"));
    }
}
