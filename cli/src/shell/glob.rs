//! Hadoop's `Globber`, `GlobExpander` and `GlobPattern`: paths with `*`, `?`,
//! `[abc]`, `[a-z]`, `[^a]` (or `[!a]`) and `{a,b}` are expanded on the
//! client, one path component at a time, by listing directories.
//!
//! Braces are expanded first (as `GlobExpander` does), so `{a/b,c}` may
//! span components; `\` escapes a special character. `*` matches names
//! starting with a dot too, as in Hadoop.

use cairn_client::FileStatus;

use super::file_system::FileSystem;
use super::path_data::join;
use super::path_exceptions::ShellError;

/// True when `pattern` has an unescaped glob character.
pub(crate) fn has_wildcard(pattern: &str) -> bool {
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if matches!(c, '*' | '?' | '[' | '{') {
            return true;
        }
    }
    false
}

/// Removes the escaping backslashes of a component without wildcards.
fn unescape(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    let mut chars = component.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Expands every `{a,b}` group (nested groups too) into separate patterns.
pub(crate) fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    // Find the first unescaped '{' and its matching '}'.
    let mut open = None;
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let start = open.unwrap_or(0);
                    let prefix: String = chars[..start].iter().collect();
                    let suffix: String = chars[i + 1..].iter().collect();
                    let mut bounds = vec![start];
                    bounds.extend(&commas);
                    bounds.push(i);
                    let mut out = Vec::new();
                    for pair in bounds.windows(2) {
                        let alternative: String = chars[pair[0] + 1..pair[1]].iter().collect();
                        out.extend(expand_braces(&format!("{prefix}{alternative}{suffix}"))?);
                    }
                    return Ok(out);
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
        i += 1;
    }
    if depth > 0 {
        return Err(format!(
            "Illegal file pattern: Unclosed group near index {}",
            chars.len()
        ));
    }
    Ok(vec![pattern.to_string()])
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyChar,
    AnyString,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// One path component's pattern (`GlobPattern`), braces already expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlobPattern {
    tokens: Vec<Token>,
}

impl GlobPattern {
    pub(crate) fn compile(component: &str) -> Result<GlobPattern, String> {
        let chars: Vec<char> = component.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\\' => {
                    i += 1;
                    let escaped = chars.get(i).copied().ok_or_else(|| {
                        format!("Illegal file pattern: Missing escaped character near index {i}")
                    })?;
                    tokens.push(Token::Literal(escaped));
                }
                '?' => tokens.push(Token::AnyChar),
                '*' => {
                    if tokens.last() != Some(&Token::AnyString) {
                        tokens.push(Token::AnyString);
                    }
                }
                '[' => {
                    let start = i;
                    i += 1;
                    let negated = matches!(chars.get(i), Some('^' | '!'));
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    while i < chars.len() {
                        let mut low = chars[i];
                        if low == ']' && !ranges.is_empty() {
                            closed = true;
                            break;
                        }
                        if low == '\\' {
                            i += 1;
                            low = *chars.get(i).ok_or_else(|| {
                                format!("Illegal file pattern: Unclosed character class near index {start}")
                            })?;
                        }
                        let mut high = low;
                        if chars.get(i + 1) == Some(&'-')
                            && chars.get(i + 2).is_some_and(|c| *c != ']')
                        {
                            high = chars[i + 2];
                            i += 2;
                            if high < low {
                                return Err(format!(
                                    "Illegal file pattern: Illegal character range near index {i}"
                                ));
                            }
                        }
                        ranges.push((low, high));
                        i += 1;
                    }
                    if !closed {
                        return Err(format!(
                            "Illegal file pattern: Unclosed character class near index {start}"
                        ));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                other => tokens.push(Token::Literal(other)),
            }
            i += 1;
        }
        Ok(GlobPattern { tokens })
    }

    /// Whether the whole `name` matches.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // Classic wildcard matching with one backtrack point for `*`.
        let (mut t, mut n) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while n < name.len() {
            match self.tokens.get(t) {
                Some(Token::AnyString) => {
                    star = Some((t, n));
                    t += 1;
                }
                Some(token) if token_matches(token, name[n]) => {
                    t += 1;
                    n += 1;
                }
                _ => match star {
                    Some((star_t, star_n)) => {
                        t = star_t + 1;
                        n = star_n + 1;
                        star = Some((star_t, star_n + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[t..].iter().all(|tok| *tok == Token::AnyString)
    }
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyChar => true,
        Token::AnyString => false,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(low, high)| (*low..=*high).contains(&c)) != *negated
        }
    }
}

/// `FileSystem.globStatus` for an absolute, normalized pattern. `Ok(None)`
/// when the pattern has no wildcard and the path does not exist (the caller
/// treats it as a path to create, or as "No such file or directory");
/// otherwise the matches, in listing order (which may be empty).
pub(crate) async fn glob_status<F: FileSystem>(
    fs: &F,
    pattern: &str,
) -> Result<Option<Vec<(String, FileStatus)>>, ShellError> {
    let flattened = expand_braces(pattern).map_err(ShellError::Message)?;
    let saw_wildcard = flattened.len() > 1 || flattened.iter().any(|p| has_wildcard(p));
    let mut results: Vec<(String, FileStatus)> = Vec::new();
    for flat in &flattened {
        for found in glob_one(fs, flat).await? {
            if !results.iter().any(|(path, _)| *path == found.0) {
                results.push(found);
            }
        }
    }
    if !saw_wildcard && results.is_empty() {
        return Ok(None);
    }
    Ok(Some(results))
}

/// Globs one brace-free pattern, component by component.
async fn glob_one<F: FileSystem>(
    fs: &F,
    pattern: &str,
) -> Result<Vec<(String, FileStatus)>, ShellError> {
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    // Candidates so far: absolute path and, once known, its status.
    let mut candidates: Vec<(String, Option<FileStatus>)> = vec![("/".to_string(), None)];
    for component in &components {
        if !has_wildcard(component) {
            let name = unescape(component);
            for candidate in &mut candidates {
                candidate.0 = join(&candidate.0, &name);
                candidate.1 = None;
            }
            continue;
        }
        let matcher = GlobPattern::compile(component).map_err(ShellError::Message)?;
        let mut next = Vec::new();
        for (dir, _) in &candidates {
            // A missing or unreadable parent matches nothing, as in Hadoop.
            let children = match fs.list(dir).await {
                Ok(children) => children,
                Err(err) if is_absent(&err) => continue,
                Err(err) => return Err(err.into()),
            };
            for child in children {
                if matcher.matches(&child.name) {
                    next.push((join(dir, &child.name), Some(child)));
                }
            }
        }
        candidates = next;
        if candidates.is_empty() {
            break;
        }
    }
    let mut results = Vec::with_capacity(candidates.len());
    for (path, status) in candidates {
        let status = match status {
            Some(status) => Some(status),
            None => fs.get_file_info(&path).await.or_else(absent_as_none)?,
        };
        if let Some(status) = status {
            results.push((path, status));
        }
    }
    Ok(results)
}

/// Errors that mean "nothing there" to a glob.
fn is_absent(err: &cairn_client::DfsError) -> bool {
    matches!(
        err.kind(),
        cairn_client::ErrorKind::NotFound | cairn_client::ErrorKind::NotADirectory
    )
}

fn absent_as_none(
    err: cairn_client::DfsError,
) -> Result<Option<FileStatus>, cairn_client::DfsError> {
    if is_absent(&err) { Ok(None) } else { Err(err) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        GlobPattern::compile(pattern).unwrap().matches(name)
    }

    #[test]
    fn wildcards_are_detected_unless_escaped() {
        assert!(has_wildcard("/logs/2024-*"));
        assert!(has_wildcard("a?"));
        assert!(has_wildcard("[ab]"));
        assert!(has_wildcard("{a,b}"));
        assert!(!has_wildcard("/plain/path"));
        assert!(!has_wildcard("a\\*b"));
        assert_eq!(unescape("a\\*b"), "a*b");
    }

    #[test]
    fn star_and_question_mark() {
        assert!(matches("*", "anything"));
        assert!(matches("*", ".hidden"));
        assert!(matches("*", ""));
        assert!(matches("2024-*", "2024-01-01"));
        assert!(!matches("2024-*", "2023-01-01"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("f?le", "file"));
        assert!(!matches("f?le", "fle"));
        assert!(matches("*.txt", "a.b.txt"));
        assert!(!matches("*.txt", "a.txt.gz"));
    }

    #[test]
    fn character_classes() {
        assert!(matches("[abc]", "b"));
        assert!(!matches("[abc]", "d"));
        assert!(matches("[a-c]x", "cx"));
        assert!(matches("[^a-c]", "d"));
        assert!(matches("[!a-c]", "d"));
        assert!(!matches("[!a-c]", "a"));
        assert!(matches("[]]", "]"));
        assert!(matches("[a\\]]", "]"));
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "x"));
        assert!(GlobPattern::compile("[ab").is_err());
        assert!(GlobPattern::compile("[z-a]").is_err());
    }

    #[test]
    fn braces_expand_into_patterns() {
        assert_eq!(expand_braces("/a/{x,y}").unwrap(), ["/a/x", "/a/y"]);
        assert_eq!(expand_braces("/{a/b,c}/d").unwrap(), ["/a/b/d", "/c/d"]);
        assert_eq!(expand_braces("{a,b{1,2}}").unwrap(), ["a", "b1", "b2"]);
        assert_eq!(expand_braces("{a,}x").unwrap(), ["ax", "x"]);
        assert_eq!(expand_braces("\\{a,b}").unwrap(), ["\\{a,b}"]);
        assert_eq!(expand_braces("plain").unwrap(), ["plain"]);
        assert!(expand_braces("{a,b").is_err());
    }
}
