//! `-mkdir [-p]` (Hadoop's `Mkdir`).

use super::command_format::{CommandFormat, UNLIMITED};
use super::path_data::{PathData, parent_of};
use super::path_exceptions::{ShellError, UsageError};
use super::{FileSystem, Shell};

pub(crate) async fn mkdir<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, UNLIMITED, &["p"]);
    cf.parse(&mut args)?;
    let create_parents = cf.flag("p");
    for item in shell.expand_arguments(&args).await {
        if let Err(err) = mkdir_one(shell, &item, create_parents).await {
            shell.display_error(err);
        }
    }
    Ok(0)
}

async fn mkdir_one<F: FileSystem>(
    shell: &mut Shell<F>,
    item: &PathData,
    create_parents: bool,
) -> Result<(), ShellError> {
    if item.exists() {
        // `processPath`: an existing directory is fine only with -p.
        return if !item.is_dir() {
            Err(ShellError::is_not_directory(&item.display))
        } else if !create_parents {
            Err(ShellError::exists(&item.display))
        } else {
            Ok(())
        };
    }
    if !create_parents {
        let parent = parent_of(&item.path);
        if shell.fs.get_file_info(parent).await?.is_none() {
            return Err(ShellError::not_found(&item.display));
        }
    }
    if !shell.fs.mkdirs(&item.path, None).await? {
        return Err(ShellError::io(&item.display));
    }
    Ok(())
}
