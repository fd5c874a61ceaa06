//! `-test -[defsz] <path>` (Hadoop's `Test`): the answer is the exit status,
//! nothing is printed.

use super::command_format::CommandFormat;
use super::path_exceptions::UsageError;
use super::{FileSystem, Shell};

pub(crate) async fn test<F: FileSystem>(
    shell: &mut Shell<F>,
    mut args: Vec<String>,
) -> Result<i32, UsageError> {
    let mut cf = CommandFormat::new(1, 1, &["e", "d", "f", "s", "z"]);
    cf.parse(&mut args)?;
    let flag = match cf.set_flags().as_slice() {
        [] => return Err(UsageError("No test flag given".to_string())),
        [one] => *one,
        _ => return Err(UsageError("Only one test flag is allowed".to_string())),
    };
    let mut exit_code = 0;
    for item in shell.expand_arguments(&args).await {
        let answer = match flag {
            "e" => item.exists(),
            "d" => item.is_dir(),
            "f" => item.is_file(),
            "s" => item.exists() && item.len() > 0,
            _ => item.exists() && item.len() == 0,
        };
        if !answer {
            exit_code = 1;
        }
    }
    Ok(exit_code)
}
