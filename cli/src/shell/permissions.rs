//! `-chmod`, `-chown` and `-chgrp` (Hadoop's `FsShellPermissions`), with
//! `-R` to apply to a whole tree. A path whose mode or owner would not
//! change is left alone, as in Hadoop.

use super::chmod_parser::ChmodParser;
use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::PathData;
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};

/// What to change on each path.
enum Change {
    Mode(ChmodParser),
    Owner {
        owner: Option<String>,
        group: Option<String>,
    },
}

/// `-chmod [-R] <MODE[,MODE]... | OCTALMODE> PATH...`.
pub(crate) async fn chmod<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    // Unknown switches stay: `-chmod -w /f` means mode "-w".
    let mut cf = CommandFormat::new(2, UNLIMITED, &["R"]).ignore_unknown();
    cf.parse(&mut args)?;
    let mode = args.remove(0);
    let parser = ChmodParser::parse(&mode).map_err(|()| {
        UsageError(format!(
            "chmod : mode '{mode}' does not match the expected pattern."
        ))
    })?;
    apply_all(shell, &args, cf.flag("R"), &Change::Mode(parser)).await;
    Ok(0)
}

/// `-chown [-R] [OWNER][:[GROUP]] PATH...`.
pub(crate) async fn chown<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(2, UNLIMITED, &["R"]);
    cf.parse(&mut args)?;
    let spec = args.remove(0);
    let (owner, group) = parse_owner_group(&spec)?;
    apply_all(shell, &args, cf.flag("R"), &Change::Owner { owner, group }).await;
    Ok(0)
}

/// `-chgrp [-R] GROUP PATH...`.
pub(crate) async fn chgrp<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(2, UNLIMITED, &["R"]);
    cf.parse(&mut args)?;
    let spec = args.remove(0);
    let group = spec.trim();
    if group.is_empty() || !group.chars().all(allowed_name_char) {
        return Err(UsageError(format!(
            "'{spec}' does not match expected pattern for group"
        )));
    }
    let change = Change::Owner {
        owner: None,
        group: Some(group.to_string()),
    };
    apply_all(shell, &args, cf.flag("R"), &change).await;
    Ok(0)
}

/// Owner and group names: `[-_./@a-zA-Z0-9]`.
fn allowed_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./@".contains(c)
}

/// `[OWNER][:[GROUP]]`, at least one of them.
fn parse_owner_group(spec: &str) -> Result<(Option<String>, Option<String>), UsageError> {
    let text = spec.trim();
    let (owner, group) = match text.split_once(':') {
        Some((owner, group)) => (owner, Some(group)),
        None => (text, None),
    };
    let valid = owner.chars().all(allowed_name_char)
        && group.is_none_or(|g| g.chars().all(allowed_name_char));
    if !valid {
        return Err(UsageError(format!(
            "'{spec}' does not match expected pattern for [owner][:group]."
        )));
    }
    let owner = (!owner.is_empty()).then(|| owner.to_string());
    let group = group.filter(|g| !g.is_empty()).map(str::to_string);
    if owner.is_none() && group.is_none() {
        return Err(UsageError(format!(
            "'{spec}' does not specify owner or group."
        )));
    }
    Ok((owner, group))
}

async fn apply_all<F: FileSystem>(
    shell: &mut Shell<F>,
    args: &[String],
    recursive: bool,
    change: &Change,
) {
    for item in shell.expand_arguments(args).await {
        if !item.exists() {
            shell.display_error(ShellError::not_found(&item.display));
            continue;
        }
        apply_tree(shell, item, recursive, change).await;
    }
}

/// The change on `item`, then on its subtree under `-R` (an error on one
/// path does not stop the others).
async fn apply_tree<F: FileSystem>(
    shell: &mut Shell<F>,
    item: PathData,
    recursive: bool,
    change: &Change,
) {
    if let Err(err) = apply_one(shell, &item, change).await {
        shell.display_error(err);
    }
    if recursive && item.is_dir() {
        match shell.directory_contents(&item).await {
            Ok(children) => {
                for child in children {
                    Box::pin(apply_tree(shell, child, recursive, change)).await;
                }
            }
            Err(err) => shell.display_error(err),
        }
    }
}

async fn apply_one<F: FileSystem>(
    shell: &Shell<F>,
    item: &PathData,
    change: &Change,
) -> Result<(), ShellError> {
    let Some(stat) = item.stat.as_ref() else {
        return Err(ShellError::not_found(&item.display));
    };
    match change {
        Change::Mode(parser) => {
            let mode = parser.apply(stat.permission, item.is_dir());
            if mode != stat.permission {
                let mode = u16::try_from(mode).unwrap_or(0o7777);
                shell
                    .fs
                    .set_permission(&item.path, mode)
                    .await
                    .map_err(|e| {
                        ShellError::Message(format!(
                            "changing permissions of '{}': {}",
                            item.display,
                            ShellError::from(e)
                        ))
                    })?;
            }
        }
        Change::Owner { owner, group } => {
            let owner = owner.as_deref().filter(|o| *o != stat.owner);
            let group = group.as_deref().filter(|g| *g != stat.group);
            if owner.is_some() || group.is_some() {
                shell
                    .fs
                    .set_owner(&item.path, owner, group)
                    .await
                    .map_err(|e| {
                        ShellError::Message(format!(
                            "changing ownership of '{}': {}",
                            item.display,
                            ShellError::from(e)
                        ))
                    })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_group_specs() {
        assert_eq!(
            parse_owner_group("alice").unwrap(),
            (Some("alice".into()), None)
        );
        assert_eq!(
            parse_owner_group("alice:staff").unwrap(),
            (Some("alice".into()), Some("staff".into()))
        );
        assert_eq!(
            parse_owner_group(":staff").unwrap(),
            (None, Some("staff".into()))
        );
        assert_eq!(
            parse_owner_group("alice:").unwrap(),
            (Some("alice".into()), None)
        );
        assert_eq!(
            parse_owner_group(":").unwrap_err().0,
            "':' does not specify owner or group."
        );
        assert_eq!(
            parse_owner_group("al ice").unwrap_err().0,
            "'al ice' does not match expected pattern for [owner][:group]."
        );
        assert!(parse_owner_group("a:b:c").is_err());
    }
}
