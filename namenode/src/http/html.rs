//! The frame every page shares, and the helpers that keep what comes from
//! the network (host names, racks, file names) inert in HTML.

use std::fmt::Write;

pub use cairn_proto::html::{escape, size};

/// Seconds between automatic refreshes of the status pages.
pub const REFRESH_SECS: u32 = 5;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
nav a{margin-right:1.2em}table{border-collapse:collapse;margin:.5em 0}\
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
th{background:#f3f3f3}.bar{width:30em;height:1.2em;background:#cde;border:1px solid #89a}\
.used{height:100%;background:#47a}.dead{color:#b00}.stale{color:#a60}";

/// A whole page: navigation, `title` as heading, then `body` (already HTML).
/// `refresh` makes the browser reload it every few seconds.
pub fn page(title: &str, refresh: bool, body: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">{}\
         <title>{} - Cairn namenode</title><style>{STYLE}</style></head><body>\n\
         <nav><a href=\"/\">Overview</a><a href=\"/datanodes\">Datanodes</a>\
         <a href=\"/explorer?path=/\">Browse the file system</a>\
         <a href=\"/metrics\">Metrics</a></nav>\n<h1>{}</h1>\n{body}</body></html>\n",
        if refresh {
            format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">")
        } else {
            String::new()
        },
        escape(title),
        escape(title),
    );
    out
}

/// A path as a query-string value (every byte but unreserved ones and `/`
/// percent-encoded).
pub fn url_path(path: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(path, KEEP).to_string()
}

/// Milliseconds since the epoch as UTC `YYYY-MM-DD hh:mm:ss`.
pub fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02} {h:02}:{m:02}:{s:02}")
}

/// A `<table>` with a header row; cells are HTML already.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n");
    if headers.iter().any(|h| !h.is_empty()) {
        out.push_str("<tr>");
        for h in headers {
            let _ = write!(out, "<th>{}</th>", escape(h));
        }
        out.push_str("</tr>\n");
    }
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_makes_markup_inert() {
        let page = page("<b>", false, "");
        assert!(page.contains("&lt;b&gt;"));
        assert!(!page.contains("<b>"));
    }

    #[test]
    fn sizes_times_and_paths_read_well() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(url_path("/a b/c&d"), "/a%20b/c%26d");
    }
}
