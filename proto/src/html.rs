//! What every Cairn web page needs, whichever daemon serves it: escaping of
//! text that came from the network or the disk, and sizes for people.

/// Text from the network, the namespace or the disk: never trusted in HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Binary units with one decimal (`1.5 KiB`), as the rest of Cairn prints
/// sizes for people.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match UNITS.get(unit) {
        Some(name) if unit > 0 => format!("{value:.1} {name}"),
        _ => format!("{bytes} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_sizes() {
        assert_eq!(
            escape("<script>\"x\"&'y'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;"
        );
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 30), "3.0 GiB");
        assert_eq!(size(17), "17 B");
    }
}
