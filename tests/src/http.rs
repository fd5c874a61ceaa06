//! A minimal HTTP/1.1 client for the tests of the HTTP ports: one request
//! per connection (`Connection: close`), chunked or sized bodies, no TLS.
//! Enough to fetch pages, `/metrics`, JSON and WebHDFS redirects without
//! pulling an HTTP client library into the test build.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// One response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET url` (`http://host:port/path?query`).
pub fn get(url: &str) -> Result<HttpResponse> {
    request("GET", url, &[])
}

/// `method url` with `body`; redirects are not followed.
pub fn request(method: &str, url: &str, body: &[u8]) -> Result<HttpResponse> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url} is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream =
        TcpStream::connect(authority).with_context(|| format!("connect {authority}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<HttpResponse> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("truncated chunk size")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            bail!("truncated chunk");
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// GET `url`, following redirects (WebHDFS OPEN goes to a datanode).
pub fn get_following(url: &str) -> Result<HttpResponse> {
    let mut url = url.to_string();
    for _ in 0..5 {
        let response = get(&url)?;
        if !(300..400).contains(&response.status) {
            return Ok(response);
        }
        url = response
            .header("location")
            .context("a redirect without Location")?
            .to_string();
    }
    bail!("too many redirects from {url}")
}

/// Parses Prometheus' text format into (series with labels, value), e.g.
/// `("cairn_rpc_calls_total{service=\"ClientProtocol\",...}", 3.0)`.
pub fn parse_prometheus(text: &str) -> Result<Vec<(String, f64)>> {
    let mut samples = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // The value follows the series; labels may hold spaces only inside
        // quotes, so split at the last space.
        let (series, value) = line
            .rsplit_once(' ')
            .with_context(|| format!("no value in the line {line:?}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .with_context(|| format!("bad value in the line {line:?}"))?,
        };
        samples.push((series.to_string(), value));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abcde");
    }

    #[test]
    fn prometheus_lines_parse() {
        let text = "# HELP x y\n# TYPE x counter\nx_total{a=\"b c\"} 3\ny 1.5e0\n# EOF\n";
        let samples = parse_prometheus(text).unwrap();
        assert_eq!(
            samples,
            [
                ("x_total{a=\"b c\"}".to_string(), 3.0),
                ("y".to_string(), 1.5)
            ]
        );
    }
}
