//! `-touchz` and `-touch` (Hadoop's `TouchCommands`).

use chrono::{Local, NaiveDateTime, TimeZone};

use cairn_client::CreateOptions;

use super::command_format::{CommandFormat, UNLIMITED};
use super::file_system::WriteFile;
use super::path_data::{PathData, parent_of};
use super::path_exceptions::{PathReason, ShellError, UsageError};
use super::{FileSystem, Shell};
use crate::human;

/// `-touchz <path> ...`: creates empty files; an existing file must be
/// empty already.
pub(crate) async fn touchz<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    CommandFormat::new(1, UNLIMITED, &[]).parse(&mut args)?;
    for item in shell.expand_arguments(&args).await {
        if let Err(err) = touchz_one(shell, &item).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

async fn touchz_one<F: FileSystem>(
    shell: &mut Shell<F>,
    item: &PathData,
) -> Result<(), ShellError> {
    if item.exists() {
        if item.is_dir() {
            return Err(ShellError::is_directory(&item.display));
        }
        if item.len() != 0 {
            return Err(ShellError::path(
                &item.display,
                PathReason::Other("Not a zero-length file".to_string()),
            ));
        }
    } else {
        check_parent(shell, item).await?;
    }
    create_empty(shell, item).await
}

/// `processNonexistentPath`: the parent must exist.
async fn check_parent<F: FileSystem>(shell: &Shell<F>, item: &PathData) -> Result<(), ShellError> {
    if shell
        .fs
        .get_file_info(parent_of(&item.path))
        .await?
        .is_none()
    {
        return Err(ShellError::not_found_qualified(
            &item.display,
            shell.qualified(&item.path),
        ));
    }
    Ok(())
}

/// `fs.create(path).close()`: an empty file, replacing an empty one.
async fn create_empty<F: FileSystem>(shell: &Shell<F>, item: &PathData) -> Result<(), ShellError> {
    let options = CreateOptions {
        overwrite: item.exists(),
        ..Default::default()
    };
    let writer = shell.fs.create(&item.path, options).await?;
    writer.close().await?;
    Ok(())
}

/// What `-touch` changes.
struct TouchOptions {
    change_mtime: bool,
    change_atime: bool,
    no_create: bool,
    timestamp: Option<u64>,
}

/// `-touch [-a] [-m] [-t TIMESTAMP] [-c] <path> ...`.
pub(crate) async fn touch<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let timestamp = pop_option_with_argument("-t", &mut args)?;
    let mut cf = CommandFormat::new(1, UNLIMITED, &["t", "a", "m", "c"]);
    cf.parse(&mut args)?;
    let timestamp = timestamp.map(|t| parse_timestamp(&t)).transpose()?;
    let options = TouchOptions {
        change_mtime: cf.flag("m"),
        change_atime: cf.flag("a"),
        no_create: cf.flag("c"),
        timestamp,
    };
    for item in shell.expand_arguments(&args).await {
        if let Err(err) = touch_one(shell, &item, &options).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

async fn touch_one<F: FileSystem>(
    shell: &mut Shell<F>,
    item: &PathData,
    options: &TouchOptions,
) -> Result<(), ShellError> {
    if item.is_dir() {
        return Err(ShellError::is_directory(&item.display));
    }
    if !item.exists() {
        check_parent(shell, item).await?;
        if options.no_create {
            return Ok(());
        }
        create_empty(shell, item).await?;
        if options.timestamp.is_none() {
            return Ok(());
        }
    }
    let time = options.timestamp.unwrap_or_else(human::now_ms);
    let (mtime, atime) = if options.change_mtime ^ options.change_atime {
        (
            (!options.change_atime).then_some(time),
            (!options.change_mtime).then_some(time),
        )
    } else {
        (Some(time), Some(time))
    };
    shell.fs.set_times(&item.path, mtime, atime).await?;
    Ok(())
}

/// `StringUtils.popOptionWithArgument`: removes `name value` from the
/// switches (before any `--`).
fn pop_option_with_argument(
    name: &str,
    args: &mut Vec<String>,
) -> Result<Option<String>, UsageError> {
    let Some(at) = args
        .iter()
        .take_while(|a| *a != "--")
        .position(|a| a == name)
    else {
        return Ok(None);
    };
    if at + 1 >= args.len() {
        return Err(UsageError(format!("option {name} requires 1 argument.")));
    }
    let value = args.remove(at + 1);
    args.remove(at);
    Ok(Some(value))
}

/// `yyyyMMdd:HHmmss` in local time, as milliseconds since the epoch.
fn parse_timestamp(text: &str) -> Result<u64, UsageError> {
    let invalid = || UsageError(format!("Unable to parse the specified timestamp {text}"));
    let naive = NaiveDateTime::parse_from_str(text, "%Y%m%d:%H%M%S").map_err(|_| invalid())?;
    let local = Local
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(invalid)?;
    u64::try_from(local.timestamp_millis()).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_option_is_taken_out() {
        let mut args: Vec<String> = ["-a", "-t", "20240102:030405", "/f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ts = pop_option_with_argument("-t", &mut args).unwrap();
        assert_eq!(ts.as_deref(), Some("20240102:030405"));
        assert_eq!(args, ["-a", "/f"]);
        let mut missing = vec!["-t".to_string()];
        assert!(pop_option_with_argument("-t", &mut missing).is_err());
    }

    #[test]
    fn timestamps_parse_in_local_time() {
        let ms = parse_timestamp("20240102:030405").unwrap();
        let expected = Local
            .with_ymd_and_hms(2024, 1, 2, 3, 4, 5)
            .earliest()
            .unwrap()
            .timestamp_millis();
        assert_eq!(ms as i64, expected);
        assert_eq!(
            parse_timestamp("2024-01-02").unwrap_err().0,
            "Unable to parse the specified timestamp 2024-01-02"
        );
    }
}
