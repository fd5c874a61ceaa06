//! `-count [-q] [-h] [-v] [-u] [-x] <path> ...` (Hadoop's `Count`, with the
//! layout of `ContentSummary.toString` and `QuotaUsage.toString`):
//!
//! ```text
//!    DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME
//! ```
//! and with `-q` the quota columns first:
//! ```text
//!        QUOTA       REM_QUOTA     SPACE_QUOTA REM_SPACE_QUOTA ...
//! ```
//! Cairn has no snapshots, so `-x` changes nothing.

use cairn_client::ContentSummary;

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};
use crate::human;

/// What one `-count` prints.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CountOptions {
    pub(crate) quotas: bool,
    pub(crate) human: bool,
    pub(crate) quotas_and_usage_only: bool,
}

pub(crate) async fn count<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["q", "h", "v", "u", "x"]);
    cf.parse(&mut args)?;
    let options = CountOptions {
        quotas: cf.flag("q"),
        human: cf.flag("h"),
        quotas_and_usage_only: cf.flag("u"),
    };
    if cf.flag("v")
        && let Err(err) = shell.println(header(&options))
    {
        shell.display_error(err);
    }
    for item in shell.expand_arguments(&args).await {
        if !item.exists() {
            shell.display_error(ShellError::not_found(&item.display));
            continue;
        }
        let line = match shell.fs.content_summary(&item.path).await {
            Ok(summary) => format!("{}{}", format_summary(&summary, &options), item.display),
            Err(err) => {
                shell.display_error(ShellError::from(err));
                continue;
            }
        };
        if let Err(err) = shell.println(line) {
            shell.display_error(err);
        }
    }
    Ok(0)
}

/// The `-v` header line.
pub(crate) fn header(options: &CountOptions) -> String {
    let quota_header = quota_columns("QUOTA", "REM_QUOTA", "SPACE_QUOTA", "REM_SPACE_QUOTA");
    let summary_header = summary_columns("DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE");
    if options.quotas_and_usage_only {
        format!("{quota_header}PATHNAME")
    } else if options.quotas {
        format!("{quota_header}{summary_header}PATHNAME")
    } else {
        format!("{summary_header}PATHNAME")
    }
}

/// The columns of one path, without the path.
pub(crate) fn format_summary(summary: &ContentSummary, options: &CountOptions) -> String {
    let size = |n: u64| {
        if options.human {
            human::human_size(n)
        } else {
            n.to_string()
        }
    };
    let signed = |n: i64| {
        if options.human {
            human::long2string(n, "", 1)
        } else {
            n.to_string()
        }
    };
    let quotas = {
        let (mut quota, mut remaining) = ("none".to_string(), "inf".to_string());
        if summary.quota > 0 {
            let used =
                i64::try_from(summary.file_count + summary.directory_count).unwrap_or(i64::MAX);
            quota = signed(summary.quota);
            remaining = signed(summary.quota.saturating_sub(used));
        }
        let (mut space_quota, mut space_remaining) = ("none".to_string(), "inf".to_string());
        if summary.space_quota >= 0 {
            let consumed = i64::try_from(summary.space_consumed).unwrap_or(i64::MAX);
            space_quota = signed(summary.space_quota);
            space_remaining = signed(summary.space_quota.saturating_sub(consumed));
        }
        quota_columns(&quota, &remaining, &space_quota, &space_remaining)
    };
    if options.quotas_and_usage_only {
        return quotas;
    }
    let columns = summary_columns(
        &size(summary.directory_count),
        &size(summary.file_count),
        &size(summary.length),
    );
    if options.quotas {
        format!("{quotas}{columns}")
    } else {
        columns
    }
}

/// `%12s %12s %18s `.
fn summary_columns(dirs: &str, files: &str, size: &str) -> String {
    format!("{dirs:>12} {files:>12} {size:>18} ")
}

/// `%12s %15s %15s %15s `.
fn quota_columns(quota: &str, remaining: &str, space: &str, space_remaining: &str) -> String {
    format!("{quota:>12} {remaining:>15} {space:>15} {space_remaining:>15} ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> ContentSummary {
        ContentSummary {
            length: 314_572_812,
            file_count: 2,
            directory_count: 2,
            quota: -1,
            space_consumed: 943_718_436,
            space_quota: -1,
        }
    }

    #[test]
    fn golden_plain_count() {
        let options = CountOptions::default();
        assert_eq!(
            format!("{}{}", format_summary(&summary(), &options), "/d"),
            "           2            2          314572812 /d"
        );
        assert_eq!(
            header(&options),
            "   DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME"
        );
    }

    #[test]
    fn golden_quotas_human_with_header() {
        let options = CountOptions {
            quotas: true,
            human: true,
            ..Default::default()
        };
        assert_eq!(
            header(&options),
            "       QUOTA       REM_QUOTA     SPACE_QUOTA REM_SPACE_QUOTA    DIR_COUNT   FILE_COUNT       CONTENT_SIZE PATHNAME"
        );
        assert_eq!(
            format!("{}{}", format_summary(&summary(), &options), "/d"),
            "        none             inf            none             inf            2            2            300.0 M /d"
        );
        let mut limited = summary();
        limited.quota = 1000;
        limited.space_quota = 1 << 30;
        assert_eq!(
            format!("{}{}", format_summary(&limited, &options), "/d"),
            "        1000             996             1 G         124.0 M            2            2            300.0 M /d"
        );
    }

    #[test]
    fn golden_quota_usage_only() {
        let options = CountOptions {
            quotas_and_usage_only: true,
            ..Default::default()
        };
        assert_eq!(
            header(&options),
            "       QUOTA       REM_QUOTA     SPACE_QUOTA REM_SPACE_QUOTA PATHNAME"
        );
        assert_eq!(
            format_summary(&summary(), &options),
            "        none             inf            none             inf "
        );
    }
}
