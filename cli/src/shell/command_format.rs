//! Hadoop's `CommandFormat`: a command's switches (`-R`, `-h`, `-skipTrash`,
//! each a whole word: `-Rh` is not `-R -h`), options with a value
//! (`-s 1000`), and the bounds on the number of remaining arguments.
//! Violations are usage errors, worded as Hadoop words them.

use super::path_exceptions::UsageError;

/// The switches a command accepts and how many arguments must remain.
pub(crate) struct CommandFormat {
    min: usize,
    max: usize,
    flags: Vec<(&'static str, bool)>,
    valued: Vec<(&'static str, Option<String>)>,
    /// `null` among Hadoop's options: unknown switches stay in the arguments
    /// (`-chmod -w /f` reads `-w` as the mode).
    ignore_unknown: bool,
}

impl CommandFormat {
    pub(crate) fn new(min: usize, max: usize, flags: &[&'static str]) -> Self {
        Self {
            min,
            max,
            flags: flags.iter().map(|f| (*f, false)).collect(),
            valued: Vec::new(),
            ignore_unknown: false,
        }
    }

    /// Accepts an option followed by a value (`-s 1000`, `-t TYPE`).
    pub(crate) fn with_value(mut self, option: &'static str) -> Self {
        self.valued.push((option, None));
        self
    }

    /// Leaves unknown switches among the arguments instead of refusing them.
    pub(crate) fn ignore_unknown(mut self) -> Self {
        self.ignore_unknown = true;
        self
    }

    /// Removes the leading switches from `args`, then checks the count of
    /// what remains. `-` alone (stdin) and anything after `--` are
    /// arguments.
    pub(crate) fn parse(&mut self, args: &mut Vec<String>) -> Result<(), UsageError> {
        let mut pos = 0;
        while pos < args.len() {
            let arg = &args[pos];
            if !arg.starts_with('-') || arg == "-" {
                break;
            }
            if arg == "--" {
                args.remove(pos);
                break;
            }
            let name = &arg[1..];
            if let Some(flag) = self.flags.iter_mut().find(|(f, _)| *f == name) {
                flag.1 = true;
                args.remove(pos);
            } else if let Some(index) = self.valued.iter().position(|(o, _)| *o == name) {
                args.remove(pos);
                let value =
                    if pos < args.len() && args.len() > self.min && !args[pos].starts_with('-') {
                        args.remove(pos)
                    } else {
                        String::new()
                    };
                self.valued[index].1 = Some(value);
            } else if self.ignore_unknown {
                pos += 1;
            } else {
                return Err(UsageError(format!("Illegal option {arg}")));
            }
        }
        if args.len() < self.min {
            return Err(UsageError(format!(
                "Not enough arguments: expected {} but got {}",
                self.min,
                args.len()
            )));
        }
        if args.len() > self.max {
            return Err(UsageError(format!(
                "Too many arguments: expected {} but got {}",
                self.max,
                args.len()
            )));
        }
        Ok(())
    }

    /// Whether the switch was given.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|(f, set)| *f == name && *set)
    }

    /// The value of an option: `None` if absent, `""` if it had no value.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.valued
            .iter()
            .find(|(o, _)| *o == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The switches that were given, in declaration order.
    pub(crate) fn set_flags(&self) -> Vec<&'static str> {
        self.flags
            .iter()
            .filter(|(_, set)| *set)
            .map(|(f, _)| *f)
            .collect()
    }
}

/// No limit on the number of arguments.
pub(crate) const UNLIMITED: usize = usize::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_are_whole_words() {
        let mut cf = CommandFormat::new(0, UNLIMITED, &["R", "h", "skipTrash"]);
        let mut a = args(&["-R", "-skipTrash", "/a", "-h"]);
        cf.parse(&mut a).unwrap();
        assert!(cf.flag("R") && cf.flag("skipTrash") && !cf.flag("h"));
        assert_eq!(a, ["/a", "-h"]);
        let mut cf = CommandFormat::new(0, UNLIMITED, &["R", "h"]);
        let err = cf.parse(&mut args(&["-Rh", "/"])).unwrap_err();
        assert_eq!(err.0, "Illegal option -Rh");
    }

    #[test]
    fn stdin_dash_and_double_dash_end_options() {
        let mut cf = CommandFormat::new(1, UNLIMITED, &["f"]);
        let mut a = args(&["-f", "-", "/dst"]);
        cf.parse(&mut a).unwrap();
        assert_eq!(a, ["-", "/dst"]);
        let mut cf = CommandFormat::new(1, UNLIMITED, &["f"]);
        let mut a = args(&["--", "-f"]);
        cf.parse(&mut a).unwrap();
        assert!(!cf.flag("f"));
        assert_eq!(a, ["-f"]);
    }

    #[test]
    fn argument_counts_are_checked() {
        let mut cf = CommandFormat::new(1, 1, &[]);
        assert_eq!(
            cf.parse(&mut args(&[])).unwrap_err().0,
            "Not enough arguments: expected 1 but got 0"
        );
        let mut cf = CommandFormat::new(1, 1, &[]);
        assert_eq!(
            cf.parse(&mut args(&["a", "b"])).unwrap_err().0,
            "Too many arguments: expected 1 but got 2"
        );
    }

    #[test]
    fn valued_options_take_the_next_word() {
        let mut cf = CommandFormat::new(1, 1, &["f"]).with_value("s");
        let mut a = args(&["-f", "-s", "200", "/f"]);
        cf.parse(&mut a).unwrap();
        assert_eq!(cf.value("s"), Some("200"));
        assert_eq!(a, ["/f"]);
        let mut cf = CommandFormat::new(1, 1, &[]).with_value("s");
        let mut a = args(&["/f"]);
        cf.parse(&mut a).unwrap();
        assert_eq!(cf.value("s"), None);
    }

    #[test]
    fn unknown_switches_can_stay() {
        let mut cf = CommandFormat::new(2, UNLIMITED, &["R"]).ignore_unknown();
        let mut a = args(&["-R", "-w", "/f"]);
        cf.parse(&mut a).unwrap();
        assert!(cf.flag("R"));
        assert_eq!(a, ["-w", "/f"]);
    }
}
