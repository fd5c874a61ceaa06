//! Hadoop's `ChmodParser` (over `PermissionParser`): a mode is either octal
//! (`644`, `1777`, with an optional leading `+`) or symbolic clauses
//! `[ugoa]*[+=-]+[rwxXt]+` separated by commas (`u+x,go-w`, `a=r`, `+t`).
//!
//! Hadoop keeps one pending change per class (user, group, others, sticky):
//! a later clause for the same class replaces the earlier one rather than
//! adding to it. `X` adds execute only for directories or files that
//! already have an execute bit; `t` (sticky) applies with the others class.

/// How a clause changes the bits of one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Set,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Change {
    op: Op,
    /// rwx as 4/2/1, plus 8 for `X`.
    mode: u32,
}

/// No change: adding nothing.
const KEEP: Change = Change {
    op: Op::Add,
    mode: 0,
};

/// A parsed `-chmod` mode, applied to each file's current permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChmodParser {
    user: Change,
    group: Change,
    others: Change,
    sticky: Change,
}

impl ChmodParser {
    /// Parses a mode; `Err` carries nothing, as the caller words the error.
    pub(crate) fn parse(mode: &str) -> Result<ChmodParser, ()> {
        if let Some(parser) = Self::parse_symbolic(mode) {
            return Ok(parser);
        }
        Self::parse_octal(mode).ok_or(())
    }

    /// `^\s*[+]?([01]?)([0-7]{3})\s*$`.
    fn parse_octal(mode: &str) -> Option<ChmodParser> {
        let text = mode.trim();
        let text = text.strip_prefix('+').unwrap_or(text);
        if !(3..=4).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: Vec<u32> = text.bytes().map(|b| u32::from(b - b'0')).collect();
        let (sticky, rest) = if digits.len() == 4 {
            if digits[0] > 1 {
                return None;
            }
            (digits[0], &digits[1..])
        } else {
            (0, &digits[..])
        };
        if rest.iter().any(|d| *d > 7) {
            return None;
        }
        let set = |mode| Change { op: Op::Set, mode };
        Some(ChmodParser {
            user: set(rest[0]),
            group: set(rest[1]),
            others: set(rest[2]),
            sticky: set(sticky),
        })
    }

    /// Clauses matching `\G\s*([ugoa]*)([+=-]+)([rwxXt]+)([,\s]*)\s*`,
    /// covering the whole text, the clauses separated by commas.
    fn parse_symbolic(mode: &str) -> Option<ChmodParser> {
        let chars: Vec<char> = mode.chars().collect();
        let mut parser = ChmodParser {
            user: KEEP,
            group: KEEP,
            others: KEEP,
            sticky: KEEP,
        };
        let mut pos = 0;
        let mut first = true;
        let mut comma_separated = false;
        while first || pos < chars.len() {
            if !first && !comma_separated {
                return None;
            }
            first = false;
            let take = |pos: &mut usize, accept: &dyn Fn(char) -> bool| -> Vec<char> {
                let start = *pos;
                while *pos < chars.len() && accept(chars[*pos]) {
                    *pos += 1;
                }
                chars[start..*pos].to_vec()
            };
            take(&mut pos, &|c| c.is_whitespace());
            let who = take(&mut pos, &|c| "ugoa".contains(c));
            let ops = take(&mut pos, &|c| "+=-".contains(c));
            let perms = take(&mut pos, &|c| "rwxXt".contains(c));
            let separators = take(&mut pos, &|c| c == ',' || c.is_whitespace());
            if ops.is_empty() || perms.is_empty() {
                return None;
            }
            let op = match ops.last() {
                Some('+') => Op::Add,
                Some('-') => Op::Remove,
                _ => Op::Set,
            };
            let (mut user, mut group, mut others) = (false, false, false);
            for c in &who {
                match c {
                    'u' => user = true,
                    'g' => group = true,
                    'o' => others = true,
                    _ => {}
                }
            }
            if !(user || group || others) {
                (user, group, others) = (true, true, true);
            }
            let mut bits = 0;
            let mut sticky = false;
            for c in &perms {
                match c {
                    'r' => bits |= 4,
                    'w' => bits |= 2,
                    'x' => bits |= 1,
                    'X' => bits |= 8,
                    _ => sticky = true,
                }
            }
            let change = Change { op, mode: bits };
            if user {
                parser.user = change;
            }
            if group {
                parser.group = change;
            }
            if others {
                parser.others = change;
                parser.sticky = Change {
                    op,
                    mode: u32::from(sticky),
                };
            }
            comma_separated = separators.contains(&',');
        }
        Some(parser)
    }

    /// The new permission of a file whose permission is `existing`;
    /// `is_dir` lets `X` add execute.
    pub(crate) fn apply(&self, existing: u32, is_dir: bool) -> u32 {
        let exe_ok = is_dir || existing & 0o111 != 0;
        combine(self.sticky, (existing >> 9) & 1, false) << 9
            | combine(self.user, (existing >> 6) & 7, exe_ok) << 6
            | combine(self.group, (existing >> 3) & 7, exe_ok) << 3
            | combine(self.others, existing & 7, exe_ok)
    }
}

/// `combineModeSegments`.
fn combine(change: Change, existing: u32, exe_ok: bool) -> u32 {
    let mut mode = change.mode;
    let cap_x = mode & 8 != 0;
    if cap_x {
        mode = (mode & !8) | 1;
    }
    mode = match change.op {
        Op::Add => mode | existing,
        Op::Remove => !mode & existing,
        Op::Set => mode,
    };
    if cap_x && !exe_ok && mode & 1 != 0 && existing & 1 == 0 {
        mode &= !1;
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(mode: &str, existing: u32, is_dir: bool) -> u32 {
        ChmodParser::parse(mode).unwrap().apply(existing, is_dir)
    }

    #[test]
    fn octal_modes() {
        assert_eq!(apply("755", 0o644, false), 0o755);
        assert_eq!(apply("0640", 0o1777, true), 0o640);
        assert_eq!(apply("1777", 0o755, true), 0o1777);
        assert_eq!(apply("+644", 0o777, false), 0o644);
        assert_eq!(apply(" 600 ", 0o777, false), 0o600);
        assert!(ChmodParser::parse("2777").is_err());
        assert!(ChmodParser::parse("778").is_err());
        assert!(ChmodParser::parse("75").is_err());
    }

    #[test]
    fn symbolic_modes() {
        assert_eq!(apply("u+x,go-w", 0o666, false), 0o744);
        assert_eq!(apply("a=r", 0o755, false), 0o444);
        assert_eq!(apply("=r", 0o755, false), 0o444);
        assert_eq!(apply("+t", 0o777, true), 0o1777);
        assert_eq!(apply("-t", 0o1777, true), 0o777);
        assert_eq!(apply("o-rwx", 0o777, false), 0o770);
        assert_eq!(apply("g+w", 0o755, true), 0o775);
        assert_eq!(apply("u=rwx,g=rx,o=r", 0o000, false), 0o754);
        assert!(ChmodParser::parse("u+rwx,o=").is_err());
    }

    #[test]
    fn capital_x_only_for_directories_or_executables() {
        assert_eq!(apply("a+X", 0o644, false), 0o644);
        assert_eq!(apply("a+X", 0o644, true), 0o755);
        assert_eq!(apply("a+X", 0o744, false), 0o755);
    }

    #[test]
    fn a_later_clause_for_a_class_replaces_the_earlier_one() {
        // Hadoop keeps one change per class: u+w wins over u+x.
        assert_eq!(apply("u+x,u+w", 0o444, false), 0o644);
        // The sticky bit goes with "others": u+t changes nothing.
        assert_eq!(apply("u+t", 0o755, true), 0o755);
    }

    #[test]
    fn bad_modes_are_refused() {
        for bad in ["", "u", "u+", "+q", "u+x g+w", "abc", "u+x;g+w"] {
            assert!(
                ChmodParser::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        // Trailing commas are separators, as in Hadoop's pattern.
        assert!(ChmodParser::parse("u+x,,").is_ok());
    }
}
